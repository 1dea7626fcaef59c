package io.graft.zoo.onnx;

import static io.graft.zoo.onnx.Graphs.i;
import static io.graft.zoo.onnx.Graphs.ints;
import static io.graft.zoo.onnx.Graphs.longs;
import static io.graft.zoo.onnx.Graphs.node;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import onnx.Onnx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Hostile graphs: ranks above 32, out-of-range opsets and int attributes, and shape bombs (a hundred bytes that
 * ask for gigabytes) are refused with a GraftException naming the node, before any native call or allocation.
 */
class OnnxModelLimitsTest {
  static final int FLOAT = Onnx.TensorProto.DataType.FLOAT_VALUE;

  @TempDir
  Path tmp;

  private Path save(String name, Onnx.GraphProto.Builder g, Onnx.OperatorSetIdProto... opsets) throws Exception {
    Onnx.ModelProto.Builder m = Onnx.ModelProto.newBuilder().setIrVersion(8).setGraph(g.setName("g"));
    for (Onnx.OperatorSetIdProto o : opsets) {
      m.addOpsetImport(o);
    }
    Path p = tmp.resolve(name + ".onnx");
    Files.write(p, m.build().toByteArray());
    return p;
  }

  private static Onnx.OperatorSetIdProto opset(String domain, long version) {
    return Onnx.OperatorSetIdProto.newBuilder().setDomain(domain).setVersion(version).build();
  }

  /** A one-output graph: float input x of {@code shape}, the nodes, initializers, output 'y'. */
  private OnnxModel model(String name, long[] shape, List<Onnx.NodeProto> nodes, Onnx.TensorProto... inits)
      throws Exception {
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().addInput(Graphs.input("x", FLOAT, shape))
        .addOutput(Onnx.ValueInfoProto.newBuilder().setName("y")).addAllNode(nodes);
    for (Onnx.TensorProto t : inits) {
      g.addInitializer(t);
    }
    return OnnxModel.load(save(name, g, opset("", 13)));
  }

  private static Tensor run(OnnxModel m, Tensor x) {
    try (var g = GradMode.disabled()) {
      return m.forward(x);
    }
  }

  private static void assertNames(GraftException e, String... parts) {
    for (String p : parts) {
      assertTrue(e.getMessage().contains(p), "'" + p + "' missing from: " + e.getMessage());
    }
  }

  // ---------------------------------------------------------------- rank above 32

  private static long[] axes(int from, int count) {
    long[] a = new long[count];
    for (int k = 0; k < count; k++) {
      a[k] = from + k;
    }
    return a;
  }

  @Test
  void unsqueezeToRank40ThenSoftmaxOrAddIsRefusedAtTheUnsqueeze() throws Exception {
    for (String op : new String[] {"Softmax", "Add"}) {
      List<Onnx.NodeProto> nodes = List.of(node("Unsqueeze", List.of("x", "ax"), List.of("deep")),
          op.equals("Add") ? node("Add", List.of("deep", "deep"), List.of("y")) : node(op, List.of("deep"),
              List.of("y")));
      OnnxModel m = model("rank40" + op, new long[] {1, 4}, nodes, longs("ax", axes(2, 38)));
      GraftException e = assertThrows(GraftException.class, () -> run(m, Tensor.ones(1, 4)));
      assertNames(e, "node 'Unsqueeze_0'", "rank 40", "32");
    }
  }

  @Test
  void reshapeExpandAndConstantOfShapeToRank40AreRefused() throws Exception {
    long[] ones = new long[40];
    java.util.Arrays.fill(ones, 1);
    long[] fortyOnes = ones.clone();
    fortyOnes[39] = 4;
    OnnxModel reshape = model("reshape40", new long[] {1, 4}, List.of(node("Reshape", List.of("x", "s"),
        List.of("y"))), longs("s", fortyOnes));
    assertNames(assertThrows(GraftException.class, () -> run(reshape, Tensor.ones(1, 4))), "Reshape", "rank 40");
    OnnxModel expand = model("expand40", new long[] {1, 4}, List.of(node("Expand", List.of("x", "s"),
        List.of("y"))), longs("s", fortyOnes));
    assertNames(assertThrows(GraftException.class, () -> run(expand, Tensor.ones(1, 4))), "Expand", "rank 40");
    OnnxModel constant = model("constant40", new long[] {1, 4}, List.of(node("ConstantOfShape", List.of("s"),
        List.of("y"))), longs("s", ones));
    assertNames(assertThrows(GraftException.class, () -> run(constant, Tensor.ones(1, 4))), "ConstantOfShape",
        "rank 40");
  }

  @Test
  void aGraphInputDeclaredWithRank40IsRefusedWhenLoading() throws Exception {
    long[] dims = new long[40];
    java.util.Arrays.fill(dims, 1);
    Path p = save("input40", Onnx.GraphProto.newBuilder().addInput(Graphs.input("x", FLOAT, dims))
        .addOutput(Onnx.ValueInfoProto.newBuilder().setName("y"))
        .addNode(node("Relu", List.of("x"), List.of("y"))), opset("", 13));
    assertNames(assertThrows(GraftException.class, () -> OnnxModel.load(p)), "graph input 'x'", "rank 40");
  }

  // ---------------------------------------------------------------- opsets and int attributes

  @Test
  void opsetVersionsOutsideWhatOnnxDefinesAreRefusedNamingTheDomain() throws Exception {
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().addInput(Graphs.input("x", FLOAT, 1, 4))
        .addOutput(Onnx.ValueInfoProto.newBuilder().setName("y")).addNode(node("Relu", List.of("x"), List.of("y")));
    long truncatesTo13 = (1L << 32) + 13;
    Path huge = save("huge", g, opset("", truncatesTo13));
    assertNames(assertThrows(GraftException.class, () -> OnnxModel.load(huge)), "opset " + truncatesTo13,
        "ai.onnx");
    Path negative = save("negative", g, opset("", -1));
    assertNames(assertThrows(GraftException.class, () -> OnnxModel.load(negative)), "opset -1", "ai.onnx");
    Path zero = save("zero", g, opset("ai.onnx", 0));
    assertNames(assertThrows(GraftException.class, () -> OnnxModel.load(zero)), "opset 0");
    Path otherDomain = save("other", g, opset("", 13), opset("com.example", -5));
    assertNames(assertThrows(GraftException.class, () -> OnnxModel.load(otherDomain)), "opset -5",
        "'com.example'");
    assertEquals(1, OnnxModel.load(save("ok", g, opset("", 13), opset("ai.onnx.ml", 3))).outputNames().size());
  }

  @Test
  void intAttributesOutsideTheIntRangeAreRefusedNamingTheAttribute() throws Exception {
    long castToFloatIfTruncated = (1L << 32) + 1;
    OnnxModel cast = model("cast", new long[] {1, 4}, List.of(node("Cast", List.of("x"), List.of("y"),
        i("to", castToFloatIfTruncated))));
    assertNames(assertThrows(GraftException.class, () -> run(cast, Tensor.ones(1, 4))), "node 'Cast_0'",
        "attribute 'to'", String.valueOf(castToFloatIfTruncated));
    OnnxModel pool = model("pool", new long[] {1, 1, 4, 4}, List.of(node("MaxPool", List.of("x"), List.of("y"),
        ints("kernel_shape", 1, 1), ints("strides", (1L << 32) + 1, 1))));
    GraftException e = assertThrows(GraftException.class, () -> run(pool, Tensor.ones(1, 1, 4, 4)));
    assertNames(e, "node 'MaxPool_0'", "attribute 'strides'");
    assertTrue(!(e.getCause() instanceof ArithmeticException), "an overflow below the checks: " + e);
  }
}
