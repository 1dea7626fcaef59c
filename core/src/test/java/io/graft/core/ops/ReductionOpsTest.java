package io.graft.core.ops;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.graft.core.Layout;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import org.junit.jupiter.api.Test;

class ReductionOpsTest {
  @Test
  void sumsOfAChannelsLastTensorEqualThoseOfItsCOrderedCopy() {
    Tensor c = Tensor.randn(new Rng(9), 2, 3, 4, 5);
    Tensor cl = Tensor.of(Layout.uninitializedChannelsLast(c.dtype(), c.shape()).assign(c.data()));
    for (boolean keepDim : new boolean[] {false, true}) {
      for (int[] dims : new int[][] {{}, {0, 1, 2, 3}, {2, 3}, {1}}) {
        Tensor a = c.detach().requiresGrad(true);
        Tensor b = cl.detach().requiresGrad(true);
        Tensor sa = ReductionOps.sum(a, keepDim, dims);
        Tensor sb = ReductionOps.sum(b, keepDim, dims);
        String what = "keepDim " + keepDim + " dims " + java.util.Arrays.toString(dims);
        assertArrayEquals(sa.shape(), sb.shape(), what);
        assertClose(sb, sa, 1e-5, 1e-6, "sum " + what);
        Tensor g = Tensor.randn(new Rng(11), sa.shape());
        sa.backward(g);
        sb.backward(g);
        assertClose(b.grad(), a.grad(), 0, 0, "gradient " + what);
      }
    }
  }
}
