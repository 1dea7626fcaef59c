package io.graft.core.ops;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.ShapeException;
import io.graft.core.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Bad shapes are rejected in Java with the op and both shapes named, before any native call. */
class ShapeErrorsTest {
  static void rejects(Executable e, String... fragments) {
    ShapeException ex = assertThrows(ShapeException.class, e);
    for (String f : fragments) {
      assertTrue(ex.getMessage().contains(f), ex.getMessage());
    }
  }

  static int[] p(int a, int b) {
    return new int[] {a, b};
  }

  /** Rank above 32 overruns libnd4j's shape buffers (a JVM abort): refused in Java wherever a shape is made. */
  @Test
  void rankAbove32IsRefusedBeforeAnyNativeCall() {
    long[] r33 = new long[33];
    java.util.Arrays.fill(r33, 1);
    long[] r40 = new long[40];
    java.util.Arrays.fill(r40, 1);
    rejects(() -> Tensor.zeros(r33), "zeros", "rank 33", "maximum of 32");
    rejects(() -> Tensor.ones(r40), "rank 40");
    Tensor x = Tensor.zeros(1, 4);
    rejects(() -> ShapeOps.reshape(x, r40), "reshape", "rank 40");
    Tensor y = x;
    for (int i = 0; i < 30; i++) {
      y = ShapeOps.unsqueeze(y, 0);
    }
    Tensor r32 = y;
    org.junit.jupiter.api.Assertions.assertEquals(32, r32.rank());
    rejects(() -> ShapeOps.unsqueeze(r32, 0), "rank 33");
    rejects(() -> ShapeOps.expand(x, r33), "rank 33");
    // rank 32 itself still works, and so does broadcasting up to it
    org.junit.jupiter.api.Assertions.assertEquals(32, r32.add(x).softmax(-1).rank());
  }

  @Test
  void elementwiseNamesTheOpAndBothShapes() {
    rejects(() -> Tensor.zeros(3, 2).add(Tensor.zeros(4)), "add", "[3, 2]", "[4]");
    rejects(() -> Tensor.zeros(3, 2).mul(Tensor.zeros(2, 3)), "mul", "[3, 2]", "[2, 3]");
    rejects(() -> Tensor.zeros(2).add(Tensor.zeros(org.nd4j.linalg.api.buffer.DataType.DOUBLE, 2)), "dtype");
  }

  @Test
  void matmulInnerDimensionsMustAgree() {
    rejects(() -> Tensor.zeros(3, 4).matmul(Tensor.zeros(5, 2)), "matmul", "[3, 4]", "[5, 2]");
    rejects(() -> Tensor.zeros(2, 3, 4).matmul(Tensor.zeros(3, 4, 2)), "matmul", "broadcastable");
    rejects(() -> LinalgOps.linear(Tensor.zeros(2, 5), Tensor.zeros(3, 4), null), "linear", "[2, 5]", "[3, 4]");
  }

  @Test
  void convChecksRanksChannelsGroupsAndKernelSize() {
    Tensor w = Tensor.zeros(8, 3, 3, 3);
    rejects(() -> ConvOps.conv2d(Tensor.zeros(3, 8, 8), w, null, p(1, 1), p(0, 0), p(1, 1), 1), "conv2d", "rank 4");
    rejects(() -> ConvOps.conv2d(Tensor.zeros(1, 4, 8, 8), w, null, p(1, 1), p(0, 0), p(1, 1), 1), "conv2d",
        "4 channels", "[1, 4, 8, 8]", "[8, 3, 3, 3]");
    rejects(() -> ConvOps.conv2d(Tensor.zeros(1, 3, 2, 2), w, null, p(1, 1), p(0, 0), p(1, 1), 1), "larger");
    rejects(() -> ConvOps.conv2d(Tensor.zeros(1, 6, 8, 8), Tensor.zeros(5, 3, 3, 3), null, p(1, 1), p(0, 0),
        p(1, 1), 2), "divisible");
    rejects(() -> ConvOps.conv2d(Tensor.zeros(1, 3, 8, 8), w, Tensor.zeros(7), p(1, 1), p(0, 0), p(1, 1), 1), "bias");
    rejects(() -> ConvOps.conv2d(Tensor.zeros(1, 3, 8, 8), w, null, p(0, 1), p(0, 0), p(1, 1), 1), "stride");
  }

  @Test
  void poolingAndNormChecks() {
    rejects(() -> PoolOps.maxPool2d(Tensor.zeros(1, 1, 2, 2), p(3, 3), p(1, 1), p(0, 0), p(1, 1)), "max_pool2d");
    rejects(() -> PoolOps.maxPool2d(Tensor.zeros(1, 1, 8, 8), p(3, 3), p(1, 1), p(2, 2), p(1, 1)), "half");
    rejects(() -> NormOps.batchNorm(Tensor.zeros(2, 3, 4, 4), Tensor.zeros(4), Tensor.ones(4), null, null, false,
        0.1, 1e-5), "batch_norm", "[4]");
    rejects(() -> NormOps.batchNorm(Tensor.zeros(1, 3), null, null, null, null, true, 0.1, 1e-5),
        "more than 1 value per channel");
  }

  @Test
  void shapeOpsChecks() {
    rejects(() -> Tensor.zeros(2, 3).reshape(4, 2), "reshape", "[2, 3]", "[4, 2]");
    rejects(() -> Tensor.zeros(2, 3).permute(0, 0), "permutation");
    rejects(() -> ShapeOps.cat(0, Tensor.zeros(2, 3), Tensor.zeros(2, 4)), "cat", "[2, 3]", "[2, 4]");
    rejects(() -> Tensor.zeros(2, 3).sum(false, 2), "sum", "out of range");
    rejects(() -> Tensor.zeros(-1, 3), "negative");
    rejects(() -> LossOps.crossEntropy(Tensor.zeros(4, 3), Tensor.fromArray(new long[] {0, 1, 2}, 3)),
        "cross_entropy", "[4, 3]", "[3]");
  }

  @Test
  void outOfRangeTargetIsAGraftErrorNamingIt() {
    var e = assertThrows(io.graft.core.GraftException.class,
        () -> LossOps.crossEntropy(Tensor.zeros(2, 3), Tensor.fromArray(new long[] {0, 3}, 2)));
    assertTrue(e.getMessage().contains("target 3 at position 1"), e.getMessage());
  }

  @Test
  void dilatedMaxPoolIsRefusedWithAReason() {
    var e = assertThrows(io.graft.core.GraftException.class,
        () -> PoolOps.maxPool2d(Tensor.zeros(1, 1, 8, 8), p(3, 3), p(1, 1), p(1, 1), p(2, 2)));
    assertTrue(e.getMessage().contains("dilation"), e.getMessage());
  }

  /** Found by RandomShapesTest's strided inputs: a one-element view reshaped to a scalar and back, with gradients. */
  @Test
  void theLastRowOfAnOffsetViewSlicesToItsShape() {
    // found by fuzzing ONNX Pad (a crop, then edge padding): ND4J gave x[1:4][2:3] shape [] and no elements
    Tensor x = Tensor.of(org.nd4j.linalg.factory.Nd4j.arange(0, 32).castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT)
        .reshape(4, 4, 2));
    Tensor last = ShapeOps.slice(ShapeOps.slice(x, 0, 1, 4, 1), 0, 2, 3, 1);
    org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] {1, 4, 2}, last.shape());
    org.junit.jupiter.api.Assertions.assertEquals(24.0, last.data().getDouble(0, 0, 0));
    org.junit.jupiter.api.Assertions.assertEquals(31.0, last.data().getDouble(0, 3, 1));
  }

  @Test
  void oneElementViewsReshapeToAScalarAndBack() {
    Tensor base = Tensor.fromArray(new float[] {1, 2, 3, 4}, 2, 2);
    Tensor view = Tensor.of(base.data().get(org.nd4j.linalg.indexing.NDArrayIndex.interval(1, 2),
        org.nd4j.linalg.indexing.NDArrayIndex.interval(1, 2))).requiresGrad(true);
    Tensor s = view.reshape();
    org.junit.jupiter.api.Assertions.assertEquals(0, s.rank());
    org.junit.jupiter.api.Assertions.assertEquals(4.0, s.item());
    Tensor back = s.mul(3).reshape(1, 1);
    back.sum().backward();
    org.junit.jupiter.api.Assertions.assertEquals(3.0, view.grad().item());
    Tensor scalar = Tensor.scalar(2.5).requiresGrad(true);
    scalar.reshape(1, 1, 1).mul(2).sum().backward();
    org.junit.jupiter.api.Assertions.assertEquals(0, scalar.grad().rank());
    org.junit.jupiter.api.Assertions.assertEquals(2.0, scalar.grad().item());
  }
}
