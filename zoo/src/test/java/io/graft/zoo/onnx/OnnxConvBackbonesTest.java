package io.graft.zoo.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.Safetensors;
import io.graft.testing.Fixtures;
import io.graft.zoo.onnx.proto.Onnx;
import io.graft.zoo.weights.OnnxWeights;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The default {@code torch.onnx.export} of EfficientNet, MobileNetV3 (Large, Small; opsets 13, 14, 17) and RegNetY
 * ({@code tools/fixtures/onnx_conv.py}: skeletons whose initializers the formula of {@link OnnxModelTest} fills, with
 * the per-initializer scales recorded beside the expected logits) imports and gives PyTorch's logits within
 * 1e-4 · max(1, max|logit|).
 */
class OnnxConvBackbonesTest {
  static final String DIR = "fixtures/zoo/onnx_graph/";
  static final List<String> MODELS = List.of("efficientnet_b0", "mobilenet_v3_large", "mobilenet_v3_small",
      "regnet_y_400mf", "mobilenet_v3_small_opset13", "mobilenet_v3_small_opset17");

  @TempDir
  Path tmp;

  /** The skeleton with initializer k filled by {@code formula(k, n, scales[k])}, written to {@code tmp}. */
  Path filled(String name, String[] scales) throws Exception {
    Onnx.ModelProto.Builder m = OnnxWeights.model(Fixtures.path(DIR + name + ".skeleton.onnx")).toBuilder();
    Onnx.GraphProto.Builder g = m.getGraphBuilder();
    assertEquals(g.getInitializerCount(), scales.length, name + ": one scale per initializer");
    for (int k = 0; k < g.getInitializerCount(); k++) {
      Onnx.TensorProto.Builder t = g.getInitializerBuilder(k);
      long n = 1;
      for (long d : t.getDimsList()) {
        n *= d;
      }
      float[] v = OnnxModelTest.formula(k, n, Integer.parseInt(scales[k]));
      ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
      for (float f : v) {
        b.putFloat(f);
      }
      b.flip();
      t.setRawData(ByteString.copyFrom(b));
    }
    Path p = tmp.resolve(name + ".onnx");
    Files.write(p, m.build().toByteArray());
    return p;
  }

  @TestFactory
  Stream<DynamicTest> defaultExportGivesPyTorchsLogits() {
    return MODELS.stream().map(name -> DynamicTest.dynamicTest(name, () -> {
      Safetensors.File expected = Fixtures.load(DIR + name + ".expected.safetensors");
      OnnxModel m = OnnxModel.load(filled(name, expected.metadata().get("scales").split(",")));
      m.eval();
      Tensor logits;
      try (var g = GradMode.disabled()) {
        logits = m.forward(OnnxModelTest.input());
      }
      assertArrayEquals(new long[] {2, 10}, logits.shape(), name);
      double[] graft = logits.toDoubleArray();
      double[] torch32 = expected.tensor("logits").toDoubleArray();
      double[] torch64 = expected.tensor("logits64").toDoubleArray();
      double scale = 0;
      double vs32 = 0;
      double vs64 = 0;
      for (int i = 0; i < graft.length; i++) {
        scale = Math.max(scale, Math.abs(torch32[i]));
        vs32 = Math.max(vs32, Math.abs(graft[i] - torch32[i]));
        vs64 = Math.max(vs64, Math.abs(graft[i] - torch64[i]));
      }
      System.out.printf("%-27s ONNX  max|graft-torch32| %.2e  max|graft-torch64| %.2e  (max|logit| %.2f)%n", name,
          vs32, vs64, scale);
      assertTrue(vs32 <= 1e-4 * Math.max(1, scale), String.format("%s: Graft's logits differ from PyTorch's by %.3g",
          name, vs32));
    }));
  }
}
