package io.graft.zoo.onnx;

import static io.graft.zoo.onnx.Graphs.floats;
import static io.graft.zoo.onnx.Graphs.input;
import static io.graft.zoo.onnx.Graphs.longs;
import static io.graft.zoo.onnx.Graphs.node;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.zoo.onnx.proto.Onnx;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Edge cases of single operators, beyond the ONNX backend cases (each found by review or fuzzing). */
class OnnxOperatorsTest {
  @TempDir
  Path tmp;

  static final int F = Onnx.TensorProto.DataType.FLOAT_VALUE;

  OnnxModel model(String name, Onnx.NodeProto n, List<Onnx.TensorProto> inits, long... xShape) throws Exception {
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName(name).addInput(input("x", F, xShape))
        .addOutput(Onnx.ValueInfoProto.newBuilder().setName("y")).addNode(n).addAllInitializer(inits);
    return OnnxModel.load(Graphs.save(tmp.resolve(name + ".onnx"), g, 17));
  }

  @Test
  void powWithAScalarExponentInitializerHandlesNegativeBasesAndIsAConstant() throws Exception {
    OnnxModel m = model("pow", node("Pow", List.of("x", "e"), List.of("y")),
        List.of(floats("e", new float[] {2f})), 3);
    assertArrayEquals(new float[] {9, 0, 4}, m.forward(Tensor.fromArray(new float[] {-3, 0, 2}, 3)).toFloatArray());
    assertTrue(m.namedParameters().isEmpty(), "a single-number initializer is a constant, not trained");
  }

  @Test
  void maxAndMinPassInfinitiesThrough() throws Exception {
    float inf = Float.POSITIVE_INFINITY;
    OnnxModel max = model("max", node("Max", List.of("x", "c"), List.of("y")),
        List.of(floats("c", new float[] {-inf, 1, 5}, 3)), 3);
    assertArrayEquals(new float[] {2, 2, 5}, max.forward(Tensor.fromArray(new float[] {2, 2, 2}, 3)).toFloatArray());
    OnnxModel min = model("min", node("Min", List.of("x", "c"), List.of("y")),
        List.of(floats("c", new float[] {inf, 1, 5}, 3)), 3);
    assertArrayEquals(new float[] {2, 1, -inf}, min.forward(Tensor.fromArray(new float[] {2, 2, -inf}, 3))
        .toFloatArray());
  }

  @Test
  void castOfAnEmptyTensorIsAnEmptyTensorOfTheNewType() throws Exception {
    // found by structure-aware fuzzing: libnd4j's transforms refused the empty array (float -> int64 truncation)
    OnnxModel m = model("castempty", node("Cast", List.of("x"), List.of("y"), Graphs.i("to", 7)), List.of(), 0, 4);
    Tensor y = m.forward(Tensor.zeros(0, 4));
    assertArrayEquals(new long[] {0, 4}, y.shape());
    assertEquals(org.nd4j.linalg.api.buffer.DataType.LONG, y.dtype());
  }

  @Test
  void castToHalfKeepsInfinities() throws Exception {
    OnnxModel m = model("cast", node("Cast", List.of("x"), List.of("y"), Graphs.i("to", 10)), List.of(), 3);
    float[] y = m.forward(Tensor.fromArray(new float[] {Float.NEGATIVE_INFINITY, 1.0001f, 70000f}, 3)).toFloatArray();
    assertEquals(Float.NEGATIVE_INFINITY, y[0]);
    assertEquals(1.0f, y[1]);   // rounded to half precision
    assertEquals(Float.POSITIVE_INFINITY, y[2]);   // beyond half's range
  }

  @Test
  void globalPoolingOfAnNxCInputIsTheIdentity() throws Exception {
    OnnxModel m = model("gap", node("GlobalAveragePool", List.of("x"), List.of("y")), List.of(), 2, 3);
    assertArrayEquals(new long[] {2, 3}, m.forward(Tensor.ones(2, 3)).shape());
  }

  @Test
  void batchNormRunningStatisticsAreBuffersNotParameters() throws Exception {
    OnnxModel m = model("bn", node("BatchNormalization", List.of("x", "s", "b", "m", "v"), List.of("y")),
        List.of(floats("s", new float[] {1, 2}, 2), floats("b", new float[] {0, 1}, 2),
            floats("m", new float[] {0, 0}, 2), floats("v", new float[] {1, 1}, 2)), 1, 2, 2, 2);
    assertEquals(Set.of("s", "b"), m.namedParameters().keySet());
    assertEquals(Set.of("s", "b", "m", "v"), m.stateDict().keys());
  }

  @Test
  void hostileShapesAreRefusedBeforeNativeCode() throws Exception {
    OnnxModel reshape = model("reshape", node("Reshape", List.of("x", "s"), List.of("y")),
        List.of(longs("s", 4, 4611686018427387905L)), 4);
    assertThrows(GraftException.class, () -> reshape.forward(Tensor.ones(4)));
    OnnxModel pad = model("pad", node("Pad", List.of("x", "p"), List.of("y")), List.of(longs("p", 0, 4000000000L)),
        2);
    assertThrows(GraftException.class, () -> pad.forward(Tensor.ones(2)));
    OnnxModel tile = model("tile", node("Tile", List.of("x", "r"), List.of("y")), List.of(longs("r", 3000000000L)),
        1);
    assertThrows(GraftException.class, () -> tile.forward(Tensor.ones(1)));
    OnnxModel slice = model("slice", node("Slice", List.of("x", "st", "en", "ax"), List.of("y")),
        List.of(longs("st", 0, 0), longs("en", 1, 1), longs("ax", 0, 0)), 3);
    assertThrows(GraftException.class, () -> slice.forward(Tensor.ones(3)));
    OnnxModel split = model("split", node("Split", List.of("x", "sp"), List.of("y", "z")), List.of(longs("sp", 5, -1)),
        4);
    assertThrows(GraftException.class, () -> split.forward(Tensor.ones(4)));
  }

  @Test
  void edgePaddingWiderThanTheInputRepeatsTheBorder() throws Exception {
    OnnxModel m = model("edge", node("Pad", List.of("x", "p"), List.of("y"), Graphs.s("mode", "edge")),
        List.of(longs("p", 3, 2)), 2);
    assertArrayEquals(new float[] {1, 1, 1, 1, 2, 2, 2}, m.forward(Tensor.fromArray(new float[] {1, 2}, 2))
        .toFloatArray());
  }

  @Test
  void layerNormalizationNormalisesTheTrailingAxesAndGivesMeanAndInvStdDev() throws Exception {
    OnnxModel m = model("ln", node("LayerNormalization", List.of("x", "s", "b"), List.of("y", "mean", "inv"),
        Graphs.i("axis", 1), Graphs.f("epsilon", 0f)), List.of(floats("s", new float[] {1, 2}, 2),
        floats("b", new float[] {0, 1}, 2)), 2, 2);
    Tensor y = m.forward(Tensor.fromArray(new float[] {1, 3, 5, 5}, 2, 2));
    // row 0: mean 2, std 1 -> (-1, 1) * (1, 2) + (0, 1) = (-1, 3); row 1: variance 0, eps 0 -> NaN as in PyTorch
    assertArrayEquals(new float[] {-1, 3}, java.util.Arrays.copyOf(y.toFloatArray(), 2));
  }

  @Test
  void erfMatchesTheErrorFunctionAndTrains() throws Exception {
    OnnxModel m = model("erf", node("Erf", List.of("x"), List.of("y")), List.of(), 3);
    Tensor x = Tensor.fromArray(new float[] {-1, 0, 0.5f}, 3).requiresGrad(true);
    Tensor y = m.forward(x);
    assertArrayEquals(new float[] {-0.8427008f, 0, 0.5204999f}, y.toFloatArray(), 1e-6f);
    y.sum().backward();
    assertEquals(2 / Math.sqrt(Math.PI), x.grad().toFloatArray()[1], 1e-6);
  }

  @Test
  void equalAndWhereComputeTheClassTokenExpandShape() throws Exception {
    // the export of class_token.expand(n, -1, -1): Where(Equal(shape, -1), ones, shape)
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName("where").addInput(input("x", F, 2, 3))
        .addOutput(Onnx.ValueInfoProto.newBuilder().setName("y"))
        .addNode(node("Equal", List.of("s", "m1"), List.of("eq")))
        .addNode(node("Where", List.of("eq", "ones", "s"), List.of("shape")))
        .addNode(node("Expand", List.of("x", "shape"), List.of("y")))
        .addInitializer(longs("s", 4, -1, -1)).addInitializer(longs("m1", -1))
        .addInitializer(longs("ones", 1, 1, 1));
    OnnxModel m = OnnxModel.load(Graphs.save(tmp.resolve("where.onnx"), g, 17));
    assertArrayEquals(new long[] {4, 2, 3}, m.forward(Tensor.zeros(2, 3)).shape());
  }

  @Test
  void whereOnFloatsSendsTheGradientToTheSelectedInput() throws Exception {
    OnnxModel m = model("wheref", node("Where", List.of("c", "x", "z"), List.of("y")),
        List.of(floats("z", new float[] {Float.POSITIVE_INFINITY, 7}, 2),
            Onnx.TensorProto.newBuilder().setName("c").setDataType(Onnx.TensorProto.DataType.BOOL_VALUE).addDims(2)
                .addInt32Data(1).addInt32Data(0).build()), 2);
    Tensor x = Tensor.fromArray(new float[] {1, 2}, 2).requiresGrad(true);
    Tensor y = m.forward(x);
    assertArrayEquals(new float[] {1, 7}, y.toFloatArray());
    y.sum().backward();
    assertArrayEquals(new float[] {1, 0}, x.grad().toFloatArray());
    assertThrows(GraftException.class, () -> m.forward(Tensor.zeros(3)));
  }

  static final long[] SCALAR = {};

  @Test
  void integerModTakesTheDivisorsSignOrWithFmodTheDividendsAndRefusesZero() throws Exception {
    List<Onnx.TensorProto> ab = List.of(longs("a", -4, 7, -3, 5, -7), longs("b", 3, -3, -3, 2, 4));
    OnnxModel py = model("mod", node("Mod", List.of("a", "b"), List.of("y")), ab, 1);
    assertArrayEquals(new long[] {2, -2, 0, 1, 1}, py.forward(Tensor.zeros(1)).data().toLongVector());
    OnnxModel c = model("fmod", node("Mod", List.of("a", "b"), List.of("y"), Graphs.i("fmod", 1)), ab, 1);
    assertArrayEquals(new long[] {-1, 1, 0, 1, -3}, c.forward(Tensor.zeros(1)).data().toLongVector());
    OnnxModel zero = model("mod0", node("Mod", List.of("a", "b"), List.of("y")),
        List.of(longs("a", 5, 6), longs("b", 1, 0)), 1);
    GraftException e = assertThrows(GraftException.class, () -> zero.forward(Tensor.zeros(1)));
    assertTrue(e.getMessage().contains("Mod"), e.getMessage());
  }

  @Test
  void floatModIsCsFmodAndNeedsFmod1() throws Exception {
    OnnxModel m = model("fmodf", node("Mod", List.of("x", "b"), List.of("y"), Graphs.i("fmod", 1)),
        List.of(floats("b", new float[] {2, -2, 0.5f, 3}, 4)), 4);
    Tensor x = Tensor.fromArray(new float[] {5.5f, 5.5f, -1.25f, -7f}, 4).requiresGrad(true);
    Tensor y = m.forward(x);
    assertArrayEquals(new float[] {1.5f, 1.5f, -0.25f, -1f}, y.toFloatArray());
    y.sum().backward();
    assertArrayEquals(new float[] {1, 1, 1, 1}, x.grad().toFloatArray());
    OnnxModel py = model("modf", node("Mod", List.of("x", "b"), List.of("y")),
        List.of(floats("b", new float[] {2}, 1)), 1);
    assertThrows(GraftException.class, () -> py.forward(Tensor.ones(1)));
  }

  @Test
  void notNegatesABoolMaskAndRefusesNumbers() throws Exception {
    // the export of attn_mask != 0: Not(Equal(mask, 0))
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName("not").addInput(input("x", F, 4))
        .addOutput(Onnx.ValueInfoProto.newBuilder().setName("y"))
        .addNode(node("Equal", List.of("x", "zero"), List.of("eq")))
        .addNode(node("Not", List.of("eq"), List.of("y")))
        .addInitializer(floats("zero", new float[] {0}));
    OnnxModel m = OnnxModel.load(Graphs.save(tmp.resolve("not.onnx"), g, 17));
    Tensor y = m.forward(Tensor.fromArray(new float[] {0, -100, 0, 3}, 4));
    assertEquals(org.nd4j.linalg.api.buffer.DataType.BOOL, y.dtype());
    assertArrayEquals(new long[] {0, 1, 0, 1}, y.data().castTo(org.nd4j.linalg.api.buffer.DataType.LONG)
        .toLongVector());
    OnnxModel f = model("notf", node("Not", List.of("x"), List.of("y")), List.of(), 2);
    GraftException e = assertThrows(GraftException.class, () -> f.forward(Tensor.ones(2)));
    assertTrue(e.getMessage().contains("bool"), e.getMessage());
  }

  OnnxModel range(String name, Onnx.TensorProto start, Onnx.TensorProto limit, Onnx.TensorProto delta)
      throws Exception {
    return model(name, node("Range", List.of("s", "l", "d"), List.of("y")), List.of(start, limit, delta), 1);
  }

  @Test
  void rangeCountsLikeArangeAndRefusesAZeroStepOrAHugeCount() throws Exception {
    assertArrayEquals(new long[] {0, 3, 6, 9}, range("r1", longs("s", SCALAR, 0), longs("l", SCALAR, 10),
        longs("d", SCALAR, 3)).forward(Tensor.zeros(1)).data().toLongVector());
    assertArrayEquals(new long[] {10, 8, 6}, range("r2", longs("s", SCALAR, 10), longs("l", SCALAR, 4),
        longs("d", SCALAR, -2)).forward(Tensor.zeros(1)).data().toLongVector());
    Tensor empty = range("r3", longs("s", SCALAR, 5), longs("l", SCALAR, 4), longs("d", SCALAR, 1))
        .forward(Tensor.zeros(1));
    assertArrayEquals(new long[] {0}, empty.shape());
    Tensor f = range("r4", floats("s", new float[] {1}), floats("l", new float[] {2}), floats("d",
        new float[] {0.25f})).forward(Tensor.zeros(1));
    assertArrayEquals(new float[] {1, 1.25f, 1.5f, 1.75f}, f.toFloatArray());
    assertThrows(GraftException.class, () -> range("r5", longs("s", SCALAR, 0), longs("l", SCALAR, 4),
        longs("d", SCALAR, 0)).forward(Tensor.zeros(1)));
    assertThrows(GraftException.class, () -> range("r6", longs("s", SCALAR, 0), longs("l", SCALAR, 1L << 40),
        longs("d", SCALAR, 1)).forward(Tensor.zeros(1)));
    assertThrows(GraftException.class, () -> range("r7", floats("s", new float[] {0}), floats("l",
        new float[] {1e12f}), floats("d", new float[] {1})).forward(Tensor.zeros(1)));
    assertThrows(GraftException.class, () -> range("r8", longs("s", SCALAR, 0), floats("l", new float[] {4}),
        longs("d", SCALAR, 1)).forward(Tensor.zeros(1)));
  }

  OnnxModel scatter(String name, String reduction, Onnx.TensorProto indices, Onnx.TensorProto updates,
      long... xShape) throws Exception {
    return model(name, node("ScatterND", List.of("x", "i", "u"), List.of("y"), Graphs.s("reduction", reduction)),
        List.of(indices, updates), xShape);
  }

  @Test
  void scatterNdReplacesAddsOrMultipliesRowsAndElements() throws Exception {
    Tensor x = Tensor.fromArray(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 4, 2);
    Onnx.TensorProto rows = longs("i", new long[] {2, 1}, 1, -1);   // rows 1 and 3 (-1)
    Onnx.TensorProto u = floats("u", new float[] {10, 20, 30, 40}, 2, 2);
    assertArrayEquals(new float[] {1, 2, 10, 20, 5, 6, 30, 40},
        scatter("none", "none", rows, u, 4, 2).forward(x).toFloatArray());
    assertArrayEquals(new float[] {1, 2, 13, 24, 5, 6, 37, 48},
        scatter("add", "add", rows, u, 4, 2).forward(x).toFloatArray());
    assertArrayEquals(new float[] {1, 2, 30, 80, 5, 6, 210, 320},
        scatter("mul", "mul", rows, u, 4, 2).forward(x).toFloatArray());
    // k = rank: single elements; "add" sums a repeated position
    Onnx.TensorProto cells = longs("i", new long[] {3, 2}, 0, 1, 3, 0, 0, 1);
    assertArrayEquals(new float[] {1, 5, 3, 4, 5, 6, 9, 8}, scatter("cells", "add", cells,
        floats("u", new float[] {1, 2, 2}, 3), 4, 2).forward(x).toFloatArray());
  }

  @Test
  void scatterNdRefusesBadIndicesAndShapesNamingTheNode() throws Exception {
    Tensor x = Tensor.zeros(4, 2);
    Onnx.TensorProto u = floats("u", new float[] {1, 2, 3, 4}, 2, 2);
    for (OnnxModel m : List.of(
        scatter("range", "none", longs("i", new long[] {2, 1}, 1, 4), u, 4, 2),      // 4 is out of range
        scatter("neg", "none", longs("i", new long[] {2, 1}, 1, -5), u, 4, 2),       // so is -5
        scatter("repeat", "none", longs("i", new long[] {2, 1}, 1, 1), u, 4, 2),     // undefined result
        scatter("shape", "none", longs("i", new long[] {2, 1}, 1, 2),
            floats("u", new float[] {1, 2}, 2), 4, 2),                                  // updates must be [2, 2]
        scatter("deep", "none", longs("i", new long[] {1, 3}, 0, 0, 0), u, 4, 2),    // k = 3 > rank 2
        scatter("reduce", "max", longs("i", new long[] {2, 1}, 1, 2), u, 4, 2))) {  // opset 18's max
      GraftException e = assertThrows(GraftException.class, () -> m.forward(x));
      assertTrue(e.getMessage().contains("ScatterND"), e.getMessage());
    }
    OnnxModel mul = scatter("mulrep", "mul", longs("i", new long[] {2, 1}, 1, 1), u, 4, 2);
    try (var off = io.graft.core.autograd.GradMode.disabled()) {   // updates is a trainable initializer
      assertArrayEquals(new float[] {1, 1, 3, 8, 1, 1, 1, 1}, mul.forward(Tensor.ones(4, 2)).toFloatArray());
    }
    GraftException e = assertThrows(GraftException.class, () -> mul.forward(Tensor.ones(4, 2)));
    assertTrue(e.getMessage().contains("gradient"), e.getMessage());
  }

  @Test
  void scatterNdOnIntegersIsExact() throws Exception {
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName("scint").addInput(input("x", F, 1))
        .addOutput(Onnx.ValueInfoProto.newBuilder().setName("y"))
        .addNode(node("ScatterND", List.of("d", "i", "u"), List.of("y")))
        .addInitializer(longs("d", 1, 2, 3, 4)).addInitializer(longs("i", new long[] {2, 1}, 3, 0))
        .addInitializer(longs("u", 1L << 40, -7));
    OnnxModel m = OnnxModel.load(Graphs.save(tmp.resolve("scint.onnx"), g, 17));
    assertArrayEquals(new long[] {-7, 2, 3, 1L << 40}, m.forward(Tensor.zeros(1)).data().toLongVector());
  }
}
