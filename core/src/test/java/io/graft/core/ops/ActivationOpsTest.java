package io.graft.core.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Layout;
import io.graft.core.Tensor;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

class ActivationOpsTest {
  @Test
  void reluKeepsPyTorchsNonFiniteSemantics() {
    // PyTorch: relu(NaN) = NaN, relu(inf) = inf; threshold_backward gives exactly 0 wherever x <= 0, whatever the
    // gradient (inf, NaN), and passes the gradient through at x = NaN (it reads the output: NaN <= 0 is false).
    // oneDNN's eltwise ReLU breaks the first two (NaN -> 0 forward, inf * 0 = NaN backward), libnd4j's relu_bp the
    // last (0 at x = NaN).
    Tensor x = Tensor.of(Nd4j.createFromArray(new float[] {Float.NaN, -1f, 0f, 2f, Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY})).requiresGrad(true);
    Tensor y = ActivationOps.relu(x);
    y.backward(Tensor.of(Nd4j.createFromArray(new float[] {1f, Float.POSITIVE_INFINITY, Float.NaN, -3f, 1f,
        Float.NaN})));
    float[] out = y.data().toFloatVector();
    float[] gx = x.grad().data().toFloatVector();
    assertTrue(Float.isNaN(out[0]), "relu(NaN) must be NaN");
    assertEquals(0f, out[1]);
    assertEquals(0f, out[2]);
    assertEquals(2f, out[3]);
    assertEquals(Float.POSITIVE_INFINITY, out[4]);
    assertEquals(0f, out[5]);
    assertEquals(1f, gx[0], "the gradient passes through at x = NaN");
    assertEquals(0f, gx[1], "an infinite gradient at x < 0 must give 0");
    assertEquals(0f, gx[2], "a NaN gradient at x = 0 must give 0");
    assertEquals(-3f, gx[3]);
    assertEquals(1f, gx[4]);
    assertEquals(0f, gx[5], "a NaN gradient at x = -inf must give 0");
  }

  @Test
  void reluKeepsAChannelsLastLayoutAndItsValues() {
    INDArray c = Nd4j.rand(DataType.FLOAT, 2, 3, 4, 5).subi(0.5);
    INDArray g = Nd4j.rand(DataType.FLOAT, 2, 3, 4, 5);
    // the incoming gradient in the same layout (flat kernels) and in C order (strided kernels)
    for (INDArray grad : new INDArray[] {Layout.uninitializedChannelsLast(DataType.FLOAT, 2, 3, 4, 5).assign(g), g}) {
      Tensor a = Tensor.of(c.dup()).requiresGrad(true);
      Tensor b = Tensor.of(Layout.uninitializedChannelsLast(DataType.FLOAT, 2, 3, 4, 5).assign(c)).requiresGrad(true);
      Tensor ya = ActivationOps.relu(a);
      Tensor yb = ActivationOps.relu(b);
      assertTrue(Layout.isChannelsLast(yb.data()), "relu keeps channels_last");
      assertEquals(ya.data(), yb.data());
      ya.backward(Tensor.of(g));
      yb.backward(Tensor.of(grad));
      assertEquals(a.grad().data(), b.grad().data());
    }
  }

  @Test
  void reluOfAStridedViewEqualsReluOfItsCopy() {
    INDArray base = Nd4j.rand(DataType.FLOAT, 4, 6).subi(0.5);
    INDArray view = base.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 4)); // columns 1..3: gaps between rows
    Tensor a = Tensor.of(view).requiresGrad(true);
    Tensor b = Tensor.of(view.dup('c')).requiresGrad(true);
    Tensor ya = ActivationOps.relu(a);
    assertEquals(ActivationOps.relu(b).data(), ya.data());
    INDArray g = Nd4j.rand(DataType.FLOAT, 4, 3);
    ya.backward(Tensor.of(g));
    ActivationOps.relu(b).backward(Tensor.of(g));
    assertEquals(b.grad().data(), a.grad().data());
  }
}
