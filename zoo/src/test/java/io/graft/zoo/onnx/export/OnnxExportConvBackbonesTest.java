package io.graft.zoo.onnx.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.random.Rng;
import io.graft.layers.Module;
import io.graft.zoo.onnx.OnnxModel;
import io.graft.zoo.onnx.proto.Onnx;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * EfficientNet, MobileNetV3 and RegNetY (fine-tuned head, randomised BatchNorm statistics) export to ONNX and give
 * Graft's own logits in ONNX Runtime and in Graft's ONNX reader, with the operators torchvision's export uses for
 * the same layers (HardSwish, HardSigmoid, Sigmoid and Mul for SiLU and the squeeze-excitation gate).
 */
class OnnxExportConvBackbonesTest {
  @TempDir
  Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"efficientnet_b0", "mobilenet_v3_large", "mobilenet_v3_small", "regnet_y_400mf"})
  void exportMatchesGraftInOnnxRuntimeAndGraftsReader(String name) throws Exception {
    Module m = OnnxExportTest.fineTuned(name, 7);
    Tensor x = Tensor.randn(new Rng(11), 2, 3, 64, 64);
    float[] expected;
    try (var g = GradMode.disabled()) {
      expected = m.call(x).toFloatArray();
    }
    Path file = dir.resolve(name + ".onnx");
    Onnx.ModelProto proto = OnnxExport.toModel(m, new long[] {3, 64, 64}, Map.of("graft.model", name));
    Map<String, Integer> ops = new TreeMap<>();
    proto.getGraph().getNodeList().forEach(n -> ops.merge(n.getOpType(), 1, Integer::sum));
    assertEquals(m.stateDict().keys().stream().filter(k -> !k.endsWith("num_batches_tracked")).count(),
        proto.getGraph().getInitializerList().stream().filter(t -> !t.getName().contains("relu6")).count(),
        name + ": every parameter and running statistic is an initializer");
    if (name.startsWith("mobilenet_v3")) {
      assertTrue(ops.containsKey("HardSwish") && ops.containsKey("HardSigmoid"), name + ": " + ops);
    } else {
      assertTrue(ops.containsKey("Sigmoid") && ops.containsKey("Mul"), name + ": " + ops);
    }
    OnnxExport.write(file, proto);
    OnnxExportTest.assertClose(expected, OnnxExportTest.runOrt(file, x), name + " in ONNX Runtime");
    OnnxModel back = OnnxModel.load(file);
    back.eval();
    try (var g = GradMode.disabled()) {
      OnnxExportTest.assertClose(expected, back.call(x).toFloatArray(), name + " in Graft's ONNX reader");
    }
  }
}
