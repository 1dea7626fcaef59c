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
import io.graft.zoo.onnx.proto.Onnx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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

  @Test
  void aRankZeroTensorHasNoAxis() throws Exception {
    // fuzzing found Squeeze of a scalar at axis 0 indexing its empty shape (ArrayIndexOutOfBoundsException)
    OnnxModel m = model("squeeze0", new long[0], List.of(node("Squeeze", List.of("x", "ax"), List.of("y"))),
        longs("ax", 0));
    GraftException e = assertThrows(GraftException.class, () -> run(m, Tensor.ones()));
    assertNames(e, "node 'Squeeze_0'", "axis 0 is out of range for rank 0");
    assertTrue(e.getCause() == null || e.getCause() instanceof GraftException, "failed below the checks: " + e);
  }

  // ---------------------------------------------------------------- the intermediate-tensor budget

  static final long SIX_HUNDRED_MILLION = 600_000_000L;

  private void assertBombRefused(OnnxModel m, Tensor x, String node, String op) {
    long budget = OnnxModel.DEFAULT_MAX_INTERMEDIATE_BYTES;
    assertEquals(budget, m.maxIntermediateBytes());
    GraftException e = assertThrows(GraftException.class, () -> run(m, x));
    // the message comes from the check before the node runs: nothing was allocated for it
    assertNames(e, "node '" + node + "'", "(" + op + ",", "budget of " + budget + " bytes",
        OnnxModel.MAX_INTERMEDIATE_BYTES_PROPERTY);
  }

  @Test
  void expandConstantOfShapeTileAndPadTo600MillionElementsAreRefusedBeforeAllocating() throws Exception {
    Tensor x1 = Tensor.ones(1);
    assertBombRefused(model("expand", new long[] {1}, List.of(node("Expand", List.of("x", "s"), List.of("y"))),
        longs("s", SIX_HUNDRED_MILLION)), x1, "Expand_0", "Expand");
    assertBombRefused(model("constant", new long[] {1}, List.of(node("ConstantOfShape", List.of("s"),
        List.of("y"))), longs("s", SIX_HUNDRED_MILLION)), x1, "ConstantOfShape_0", "ConstantOfShape");
    assertBombRefused(model("tile", new long[] {1}, List.of(node("Tile", List.of("x", "r"), List.of("y"))),
        longs("r", SIX_HUNDRED_MILLION)), x1, "Tile_0", "Tile");
    assertBombRefused(model("pad", new long[] {1}, List.of(node("Pad", List.of("x", "p"), List.of("y"))),
        longs("p", 0, SIX_HUNDRED_MILLION)), x1, "Pad_0", "Pad");
  }

  @Test
  void averagePoolWithPadsOf2To30IsRefusedBeforeAllocating() throws Exception {
    // 1-D: pads of 2^29 a side pass the 2^31-element check, and the padded copy alone was 4 GiB (8.5 GB peak)
    long half = 1L << 29;
    assertBombRefused(model("avgpool1d", new long[] {1, 1, 4}, List.of(node("AveragePool", List.of("x"),
        List.of("y"), ints("kernel_shape", 1), ints("pads", half, half)))), Tensor.ones(1, 1, 4), "AveragePool_0",
        "AveragePool");
    long p = 1L << 30;
    Tensor x = Tensor.ones(1, 1, 4, 4);
    assertBombRefused(model("avgpool", new long[] {1, 1, 4, 4}, List.of(node("AveragePool", List.of("x"),
        List.of("y"), ints("kernel_shape", 1, 1), ints("pads", p, p, p, p)))), x, "AveragePool_0", "AveragePool");
    // a stride as large keeps the output small, but the padded copy the pool reads is still 2^62 cells
    assertBombRefused(model("avgpoolstride", new long[] {1, 1, 4, 4}, List.of(node("AveragePool", List.of("x"),
        List.of("y"), ints("kernel_shape", 1, 1), ints("strides", p, p), ints("pads", p, p, p, p)))), x,
        "AveragePool_0", "AveragePool");
  }

  @Test
  void sizesThatTheOperatorRefusesAreNotReadAsOverflows() throws Exception {
    // a crop past the input's size: the size arithmetic must not wrap a negative size into a huge one
    OnnxModel crop = model("crop", new long[] {4}, List.of(node("Pad", List.of("x", "p"), List.of("y"))),
        longs("p", -6, 0));
    GraftException e = assertThrows(GraftException.class, () -> run(crop, Tensor.ones(4)));
    assertNames(e, "node 'Pad_0'", "negative");
    assertTrue(!e.getMessage().contains("budget"), e.getMessage());
  }

  @Test
  void intermediatesHeldAtOnceCountTowardsTheBudget() throws Exception {
    // two 80 MB expansions, each within a 100 MB budget alone, both kept for the final Sum
    long n = 20_000_000L;
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().addInput(Graphs.input("x", FLOAT, 1))
        .addOutput(Onnx.ValueInfoProto.newBuilder().setName("y")).addInitializer(longs("s", n))
        .addNode(node("Expand", List.of("x", "s"), List.of("a")))
        .addNode(node("Expand", List.of("x", "s"), List.of("b")).toBuilder().setName("second").build())
        .addNode(node("Sum", List.of("a", "b"), List.of("y")));
    OnnxModel m = OnnxModel.load(save("held", g, opset("", 13))).maxIntermediateBytes(100_000_000L);
    GraftException e = assertThrows(GraftException.class, () -> run(m, Tensor.ones(1)));
    assertNames(e, "node 'second'", "with 80000000 bytes of intermediate tensors held",
        "budget of 100000000 bytes");
  }

  @Test
  void theBudgetIsSetByTheApiOrTheSystemProperty() throws Exception {
    List<Onnx.NodeProto> nodes = List.of(node("Expand", List.of("x", "s"), List.of("y")));
    OnnxModel m = model("small", new long[] {1}, nodes, longs("s", 1000));
    assertEquals(1000, run(m, Tensor.ones(1)).numel());
    m.maxIntermediateBytes(3999);   // 1000 floats need 4000 bytes
    assertNames(assertThrows(GraftException.class, () -> run(m, Tensor.ones(1))), "Expand", "4000 bytes",
        "budget of 3999 bytes");
    assertThrows(GraftException.class, () -> m.maxIntermediateBytes(0));
    String key = OnnxModel.MAX_INTERMEDIATE_BYTES_PROPERTY;
    try {
      System.setProperty(key, "3999");
      OnnxModel fromProperty = model("property", new long[] {1}, nodes, longs("s", 1000));
      assertEquals(3999, fromProperty.maxIntermediateBytes());
      assertThrows(GraftException.class, () -> run(fromProperty, Tensor.ones(1)));
      assertEquals(3999, fromProperty.cut("y").maxIntermediateBytes());
      System.setProperty(key, "lots");
      assertNames(assertThrows(GraftException.class, () -> model("bad", new long[] {1}, nodes, longs("s", 1))),
          key, "lots");
    } finally {
      System.clearProperty(key);
    }
  }

  // ---------------------------------------------------------------- negative-step Slice and Gather in bulk

  private static Tensor arange(long n) {
    return Tensor.of(Nd4j.arange(0, n).castTo(DataType.FLOAT).reshape(n));
  }

  @Test
  void negativeStepSliceMatchesPythonSlicing() throws Exception {
    long[][] cases = {   // start, end, step, then the expected values of range(10)[start:end:step]
        {8, 1, -3, 8, 5, 2}, {-1, -100, -1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, {100, 5, -2, 9, 7}, {3, 3, -1},
        {2, 8, -1}, {9, -11, -4, 9, 5, 1}, {5, 0, Long.MIN_VALUE, 5}};
    for (long[] c : cases) {
      OnnxModel m = model("slice" + c[0] + "_" + c[2], new long[] {10}, List.of(node("Slice",
          List.of("x", "st", "en", "ax", "sp"), List.of("y"))), longs("st", c[0]), longs("en", c[1]),
          longs("ax", 0), longs("sp", c[2]));
      float[] expected = new float[c.length - 3];
      for (int k = 0; k < expected.length; k++) {
        expected[k] = c[k + 3];
      }
      assertArrayEquals(expected, run(m, arange(10)).data().toFloatVector(), java.util.Arrays.toString(c));
    }
    // two axes of a [3, 4]: rows reversed, every other column from the end
    OnnxModel m = model("slice2d", new long[] {3, 4}, List.of(node("Slice", List.of("x", "st", "en", "ax", "sp"),
        List.of("y"))), longs("st", -1, -1), longs("en", Long.MIN_VALUE, Long.MIN_VALUE), longs("ax", 0, 1),
        longs("sp", -1, -2));
    Tensor y = run(m, Tensor.of(Nd4j.arange(0, 12).castTo(DataType.FLOAT).reshape(3, 4)));
    assertArrayEquals(new long[] {3, 2}, y.shape());
    assertArrayEquals(new float[] {11, 9, 7, 5, 3, 1}, y.data().dup('c').reshape(6).toFloatVector());
  }

  @Test
  void negativeStepSliceOfSixteenMillionElementsBuildsNoIndexList() throws Exception {
    // an index list would hold 16 M boxed Longs and as many slices joined: gigabytes of heap
    long n = 1L << 24;
    OnnxModel m = model("bigslice", new long[] {n}, List.of(node("Slice", List.of("x", "st", "en", "ax", "sp"),
        List.of("y"))), longs("st", -1), longs("en", Long.MIN_VALUE), longs("ax", 0), longs("sp", -1));
    Tensor y = run(m, arange(n));
    assertEquals(n, y.numel());
    assertEquals(n - 1, y.data().getDouble(0));
    assertEquals(0, y.data().getDouble(n - 1));
    assertEquals(n / 2 - 1, y.data().getDouble(n / 2));
  }

  @Test
  void gatherWithNegativeAndRepeatedIndicesMatchesTakeAlongAnAxis() throws Exception {
    Onnx.TensorProto idx = Onnx.TensorProto.newBuilder().setName("i")
        .setDataType(Onnx.TensorProto.DataType.INT64_VALUE).addDims(2).addDims(2).addInt64Data(-1).addInt64Data(0)
        .addInt64Data(2).addInt64Data(-1).build();
    OnnxModel m = model("gather", new long[] {2, 3}, List.of(node("Gather", List.of("x", "i"), List.of("y"),
        i("axis", 1))), idx);
    Tensor y = run(m, Tensor.of(Nd4j.arange(0, 6).castTo(DataType.FLOAT).reshape(2, 3)));
    assertArrayEquals(new long[] {2, 2, 2}, y.shape());
    assertArrayEquals(new float[] {2, 0, 2, 2, 5, 3, 5, 5}, y.data().dup('c').reshape(8).toFloatVector());
    OnnxModel out = model("gatherout", new long[] {2, 3}, List.of(node("Gather", List.of("x", "i"), List.of("y"),
        i("axis", 1))), longs("i", 0, 3));
    assertNames(assertThrows(GraftException.class, () -> run(out, Tensor.ones(2, 3))), "Gather", "index 3");
    // a million scattered indices: one bulk gather
    int count = 1_000_000;
    long[] v = new long[count];
    for (int k = 0; k < count; k++) {
      v[k] = (k * 7919L) % 1000 - 500;
    }
    OnnxModel big = model("gatherbig", new long[] {1000}, List.of(node("Gather", List.of("x", "i"), List.of("y"))),
        longs("i", v));
    Tensor r = run(big, arange(1000));
    assertEquals(count, r.numel());
    for (int k : new int[] {0, 1, 999_999}) {
      assertEquals(Math.floorMod(v[k], 1000), r.data().getDouble(k));
    }
  }
}
