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
}
