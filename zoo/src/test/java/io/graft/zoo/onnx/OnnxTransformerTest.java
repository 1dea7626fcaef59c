package io.graft.zoo.onnx;

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
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The default {@code torch.onnx.export} of torchvision's ViT-B/16 (opset 17 with LayerNormalization, and torch 1.13's
 * default opset 14), ConvNeXt-Tiny (opset 17), Swin-T (opsets 14 and 17: shifted windows, padding by computed
 * amounts, the attention mask built with Range, Mod, ScatterND and Not), ViT-B/32 (opset 14) and ConvNeXt-Small
 * (opset 14, LayerNorm spelled out), as skeletons filled with {@code tools/fixtures/onnx_vit.py}'s formula weights,
 * against PyTorch's logits within 1e-4 · max(1, max|logit|).
 */
class OnnxTransformerTest {
  static final String DIR = "fixtures/zoo/onnx_graph/";

  @TempDir
  Path tmp;

  Path filled(String prefix) throws Exception {
    Onnx.ModelProto.Builder m = OnnxWeights.model(Fixtures.path(DIR + prefix + ".skeleton.onnx")).toBuilder();
    Onnx.GraphProto.Builder g = m.getGraphBuilder();
    for (int k = 0; k < g.getInitializerCount(); k++) {
      Onnx.TensorProto.Builder t = g.getInitializerBuilder(k);
      long n = 1;
      for (long d : t.getDimsList()) {
        n *= d;
      }
      float[] v = OnnxModelTest.formula(k, n, OnnxModelTest.log2Scale(t.getDimsList()));
      boolean gamma = t.getDimsCount() == 1 && t.getName().endsWith(".weight");
      ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
      for (float f : v) {
        b.putFloat(gamma ? f + 1 : f);
      }
      b.flip();
      t.setRawData(ByteString.copyFrom(b));
    }
    Path p = tmp.resolve(prefix + ".onnx");
    Files.write(p, m.build().toByteArray());
    return p;
  }

  @TestFactory
  Stream<DynamicTest> defaultExportsMatchPyTorchLogits() {
    return Stream.of("vit_b_16_opset17", "vit_b_16_opset14", "convnext_tiny_opset17", "swin_t_opset14",
        "swin_t_opset17", "vit_b_32_opset14", "convnext_small_opset14").map(prefix ->
        DynamicTest.dynamicTest(prefix, () -> {
          Safetensors.File expected = Fixtures.load(DIR + prefix + ".expected.safetensors");
          long[] shape = Arrays.stream(expected.metadata().get("input_shape").split(",")).mapToLong(Long::parseLong)
              .toArray();
          OnnxModel m = OnnxModel.load(filled(prefix));
          Tensor x = Tensor.fromArray(OnnxModelTest.formula(999, Arrays.stream(shape).reduce(1, (a, b) -> a * b), 0),
              shape);
          Tensor logits;
          try (var off = GradMode.disabled()) {
            logits = m.forward(x);
          }
          double[] ref = expected.tensor("logits").toDoubleArray();
          double[] got = logits.toDoubleArray();
          assertEquals(ref.length, got.length, prefix);
          double max = 0;
          double diff = 0;
          for (int i = 0; i < ref.length; i++) {
            max = Math.max(max, Math.abs(ref[i]));
            diff = Math.max(diff, Math.abs(ref[i] - got[i]));
          }
          System.out.printf("%-22s ONNX max|graft-torch| %.2e (max|logit| %.3f) operators %s%n", prefix, diff, max,
              m.operatorCounts().keySet());
          assertTrue(diff <= 1e-4 * Math.max(1, max), prefix + ": logits differ by " + diff);
        }));
  }
}
