package io.graft.core.ops;

import static io.graft.testing.TensorAssert.assertIdentical;

import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import org.junit.jupiter.api.Test;

class ConvOpsTest {
  @Test
  void groupedConvolutionWithAStridedWeightViewEqualsItsDenseCopy() {
    // a 2-D kernel sliced out of a 5-D one is a strided view; libnd4j's grouped conv2d failed on it
    Rng rng = new Rng(7);
    Tensor x = Tensor.randn(rng, 2, 4, 5, 4);
    Tensor w5 = Tensor.randn(rng, 6, 2, 3, 3, 3);
    Tensor view = ShapeOps.squeeze(ShapeOps.slice(w5, 2, 1, 2, 1), 2).detach().requiresGrad(true);
    Tensor dense = Tensor.of(view.data().dup('c')).requiresGrad(true);
    int[] one = {1, 1};
    Tensor a = ConvOps.conv2d(x, view, null, one, new int[] {1, 1}, one, 2);
    Tensor b = ConvOps.conv2d(x, dense, null, one, new int[] {1, 1}, one, 2);
    assertIdentical(a, b, "output");
    a.sum().backward();
    b.sum().backward();
    assertIdentical(view.grad(), dense.grad(), "weight gradient");
  }
}
