package io.graft.zoo.onnx;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.core.ops.LossOps;
import io.graft.layers.Linear;
import io.graft.layers.Sequential;
import io.graft.testing.Fixtures;
import io.graft.zoo.onnx.proto.Onnx;
import io.graft.zoo.weights.OnnxWeights;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxModelTest {
  static final String DIR = "fixtures/zoo/onnx_graph/";

  @TempDir
  Path tmp;

  static Path resource(String name) {
    return Fixtures.path(name);
  }

  // ---------------------------------------------------------------- the formula weights of tools/fixtures/onnx_graph.py

  static long splitmix64(long z) {
    z += 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  static float[] formula(long seed, long n, int log2Scale) {
    float[] v = new float[Math.toIntExact(n)];
    long base = seed << 32;
    for (int i = 0; i < v.length; i++) {
      long h = splitmix64(base + i);
      v[i] = (float) ((((h >>> 41) - (1L << 22)) / (double) (1L << 22)) * Math.pow(2, log2Scale));
    }
    return v;
  }

  static int log2Scale(List<Long> dims) {
    if (dims.size() == 1) {
      return -5;
    }
    long fanIn = 1;
    for (int k = 1; k < dims.size(); k++) {
      fanIn *= dims.get(k);
    }
    return (int) Math.round(Math.log(Math.sqrt(6.0 / fanIn)) / Math.log(2)) - 1;
  }

  /** The skeleton export with its initializers filled by the formula, written to {@code tmp}. */
  Path resnet18() throws Exception {
    Onnx.ModelProto.Builder m = OnnxWeights.model(resource(DIR + "resnet18_fused.skeleton.onnx")).toBuilder();
    Onnx.GraphProto.Builder g = m.getGraphBuilder();
    for (int k = 0; k < g.getInitializerCount(); k++) {
      Onnx.TensorProto.Builder t = g.getInitializerBuilder(k);
      long n = 1;
      for (long d : t.getDimsList()) {
        n *= d;
      }
      int scale = log2Scale(t.getDimsList()) + (t.getName().equals("fc.weight") ? 3 : 0);
      float[] v = formula(k, n, scale);
      ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
      for (float f : v) {
        b.putFloat(f);
      }
      b.flip();
      t.setRawData(ByteString.copyFrom(b));
    }
    Path p = tmp.resolve("resnet18_fused.onnx");
    Files.write(p, m.build().toByteArray());
    return p;
  }

  static Tensor input() {
    return Tensor.fromArray(formula(999, 2 * 3 * 64 * 64, 0), 2, 3, 64, 64);
  }

  @Test
  void resnet18DefaultExportMatchesPyTorchLogitsAndGradients() throws Exception {
    Safetensors.File expected = Fixtures.load(DIR + "resnet18_fused.expected.safetensors");
    OnnxModel m = OnnxModel.load(resnet18());
    assertTrue(m.operatorCounts().containsKey("Gemm") && !m.operatorCounts().containsKey("BatchNormalization"),
        "a fused export: " + m.operatorCounts());
    Tensor logits = m.forward(input());
    assertClose(logits, expected.tensor("logits"), 1e-4, 0, "logits");
    Tensor loss = LossOps.crossEntropy(logits, Tensor.fromArray(new long[] {3, 7}, 2));
    assertClose(loss.reshape(1), expected.tensor("loss"), 1e-5, 1e-5, "loss");
    loss.backward();
    Map<String, Parameter> params = m.namedParameters();
    assertEquals(42, params.size());
    int grads = 0;
    int norms = 0;
    for (Safetensors.Entry e : expected.entries()) {
      if (e.name().startsWith("grad:")) {
        String name = e.name().substring(5);
        assertClose(params.get(name).grad(), expected.tensor(e.name()), 1e-5, 1e-3, e.name());
        grads++;
      } else if (e.name().startsWith("norm:")) {
        String name = e.name().substring(5);
        Tensor g = params.get(name).grad();
        assertNotNull(g, name);
        double norm = Math.sqrt(g.to(org.nd4j.linalg.api.buffer.DataType.DOUBLE).pow(2).sum().item());
        double ref = expected.tensor(e.name()).item();
        assertEquals(ref, norm, 1e-3 * ref + 1e-7, "gradient norm of " + name);
        norms++;
      }
    }
    assertEquals(7, grads);
    assertEquals(42, norms);
  }

  @Test
  void headReplacementCutsAtTheLastGemmInputAndTrainsOnlyTheNewHead() throws Exception {
    OnnxModel full = OnnxModel.load(resnet18());
    String features = full.featureTensor();
    OnnxModel backbone = full.cut(features);
    assertEquals(List.of(features), backbone.outputNames());
    assertEquals(40, backbone.namedParameters().size(), "fc.weight and fc.bias are not part of the cut");
    String first = backbone.namedParameters().keySet().iterator().next();
    assertSame(full.namedParameters().get(first), backbone.namedParameters().get(first), "the cut shares " + first);
    backbone.requiresGrad(false);
    Linear head = new Linear(512, 3);
    Sequential net = new Sequential(backbone, head);
    Tensor y = net.call(input());
    assertArrayEquals(new long[] {2, 3}, y.shape());
    LossOps.crossEntropy(y, Tensor.fromArray(new long[] {0, 2}, 2)).backward();
    assertNotNull(head.weight().grad());
    for (Map.Entry<String, Parameter> e : backbone.namedParameters().entrySet()) {
      assertNull(e.getValue().grad(), e.getKey() + " is frozen");
    }
  }

  @Test
  void shapeChainsOfADynamicBatchExportResolveAtRunTime() {
    Safetensors.File expected = Fixtures.load(DIR + "flatten_view.expected.safetensors");
    OnnxModel m = OnnxModel.load(resource(DIR + "flatten_view.onnx"));
    assertTrue(m.operatorCounts().keySet().containsAll(Set.of("Shape", "Gather", "Unsqueeze", "Concat", "Reshape")),
        m.operatorCounts().toString());
    for (int b : new int[] {1, 3}) {
      assertClose(m.forward(expected.tensor("x" + b)), expected.tensor("y" + b), 1e-5, 1e-5, "batch " + b);
    }
    assertEquals(Set.of("conv.weight", "conv.bias", "fc.weight", "fc.bias"), m.namedParameters().keySet());
    m.freeze("conv.*");
    assertTrue(!m.namedParameters().get("conv.weight").requiresGrad()
        && m.namedParameters().get("fc.weight").requiresGrad());
    assertEquals(Set.of("conv.weight", "conv.bias", "fc.weight", "fc.bias"), m.stateDict().keys());
  }

  @Test
  void wrongInputShapeIsAClearErrorBeforeAnyNodeRuns() throws Exception {
    OnnxModel m = OnnxModel.load(resnet18());
    GraftException e = assertThrows(GraftException.class, () -> m.forward(Tensor.zeros(1, 3, 64, 64)));
    assertTrue(e.getMessage().contains("[1, 3, 64, 64]") && e.getMessage().contains("[2, 3, 64, 64]"),
        e.getMessage());
  }

  @Test
  void everyUnsupportedOperatorIsListedWhenLoading() throws Exception {
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName("g")
        .addInput(Graphs.input("x", Onnx.TensorProto.DataType.FLOAT_VALUE, 1, 4))
        .addOutput(Graphs.input("z", Onnx.TensorProto.DataType.FLOAT_VALUE, 1, 4))
        .addNode(Graphs.node("Relu", List.of("x"), List.of("a")))
        .addNode(Graphs.node("Hardmax", List.of("a"), List.of("b")))
        .addNode(Graphs.node("Det", List.of("b"), List.of("c")))
        .addNode(Graphs.node("Relu", List.of("c"), List.of("z")).toBuilder().setDomain("com.example").build());
    Path p = Graphs.save(tmp.resolve("unsupported.onnx"), g, 17);
    GraftException e = assertThrows(GraftException.class, () -> OnnxModel.load(p));
    assertTrue(e.getMessage().contains("[Det, Hardmax, com.example.Relu]") && e.getMessage().contains(p.toString()),
        e.getMessage());
    Path newer = Graphs.save(tmp.resolve("opset99.onnx"), g.clearNode().addNode(Graphs.node("Relu", List.of("x"),
        List.of("z"))), 99);
    assertTrue(assertThrows(GraftException.class, () -> OnnxModel.load(newer)).getMessage().contains("opset 99"));
  }

  @Test
  void unfusedExportKeepsStateDictNamesForFreezingAndLoading() {
    OnnxModel m = OnnxModel.load(resource("fixtures/zoo/onnx/preserve.onnx"));
    Set<String> keys = m.namedParameters().keySet();
    assertTrue(keys.containsAll(Set.of("conv1.weight", "bn1.weight", "bn1.bias", "fc.weight", "fc.bias")),
        keys.toString());
    m.freeze("conv1", "bn1");
    assertTrue(!m.namedParameters().get("conv1.weight").requiresGrad()
        && m.namedParameters().get("fc.weight").requiresGrad());
  }
}
