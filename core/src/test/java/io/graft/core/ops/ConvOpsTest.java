package io.graft.core.ops;

import static io.graft.testing.TensorAssert.assertClose;
import static io.graft.testing.TensorAssert.assertIdentical;

import io.graft.core.Tensor;
import io.graft.core.backend.Backends;
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

  @Test
  void libnd4jFrozenWeightInputGradientEqualsConv2dBackward() {
    // frozen weights take the deconvolution path for the input gradient; trainable ones take conv2d_bp: the
    // input gradients must agree (ResNet shapes: stride 1, stride 2 over an even size, 1x1 downsample, a 7x7 stem)
    int[][] cases = {{2, 16, 14, 14, 3, 1, 1}, {2, 16, 14, 14, 3, 2, 1}, {2, 16, 13, 13, 1, 2, 0}, {1, 3, 40, 40, 7, 2,
        3}};
    for (int[] c : cases) {
      Rng rng = new Rng(17);
      Tensor x = Tensor.randn(rng, c[0], c[1], c[2], c[3]);
      Tensor w = Tensor.randn(rng, 8, c[1], c[4], c[4]).mul(0.1);
      int[] st = {c[5], c[5]};
      int[] pd = {c[6], c[6]};
      Tensor g = Tensor.randn(rng, ConvOps.conv2d(x, w, null, st, pd, new int[] {1, 1}, 1).shape());
      Tensor xFrozen = x.detach().requiresGrad(true);
      nd4j(xFrozen, w, null, st, pd, new int[] {1, 1}, 1).backward(g);
      Tensor xBoth = x.detach().requiresGrad(true);
      nd4j(xBoth, w.detach().requiresGrad(true), null, st, pd, new int[] {1, 1}, 1).backward(g);
      assertClose(xFrozen.grad(), xBoth.grad(), 1e-5, 1e-5, "input gradient " + java.util.Arrays.toString(c));
    }
  }

  @Test
  void directOneDnnConvolutionTakesStridedViews() {
    Rng rng = new Rng(31);
    Tensor big = Tensor.randn(rng, 2, 6, 10, 12);
    Tensor view = ShapeOps.slice(big, 1, 1, 5, 1); // channels 1..4 of 6: a non-contiguous view
    Tensor w = Tensor.randn(rng, 5, 4, 3, 3);
    int[] one = {1, 1};
    Tensor a = ConvOps.conv2d(view, w, null, one, one, one, 1);
    Tensor b = nd4j(Tensor.of(view.data().dup('c')), w, null, one, one, one, 1);
    assertClose(a, b, 1e-4, 1e-5, "oneDNN on a view against libnd4j on a dense copy");
  }

  /** conv2d on libnd4j's kernels alone. */
  private static Tensor nd4j(Tensor x, Tensor w, Tensor b, int[] st, int[] pd, int[] dl, int groups) {
    try (Backends.Pin pin = Backends.pin(Backends.LIBND4J)) {
      return ConvOps.conv2d(x, w, b, st, pd, dl, groups);
    }
  }
}
