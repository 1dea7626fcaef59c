package io.graft.core.ops;

import static io.graft.testing.TensorAssert.assertClose;
import static io.graft.testing.TensorAssert.assertIdentical;

import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import org.nd4j.linalg.api.buffer.DataType;
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
  void channelsLastFirstLayerEqualsTheChannelsFirstPath() {
    // 3 input channels and 65x65 outputs take the channels-last path; a fourth and fifth all-zero input channel
    // (more than 4 channels) sends the same convolution down the channels-first path
    for (DataType dtype : new DataType[] {DataType.FLOAT, DataType.DOUBLE}) {
      Rng rng = new Rng(11);
      Tensor x = Tensor.randn(rng, 2, 3, 130, 130).to(dtype);
      Tensor w = Tensor.randn(rng, 8, 3, 3, 3).mul(0.2).to(dtype);
      Tensor b = Tensor.randn(rng, 8).to(dtype);
      Tensor x5 = ShapeOps.cat(1, x, Tensor.zeros(2, 2, 130, 130).to(dtype));
      Tensor w5 = ShapeOps.cat(1, w, Tensor.zeros(8, 2, 3, 3).to(dtype));
      int[] s2 = {2, 2};
      int[] one = {1, 1};
      Tensor last = ConvOps.conv2d(x, w, b, s2, one, one, 1);
      Tensor first = ConvOps.conv2d(x5, w5, b, s2, one, one, 1);
      assertClose(last, first, dtype == DataType.FLOAT ? 1e-5 : 1e-12, 0, "conv2d " + dtype);
    }
  }

  @Test
  void firstLayerWeightGradientWithoutAnInputGradientEqualsConv2dBackward() {
    // an input that needs no gradient takes the im2col + GEMM weight gradient; the same input requiring a
    // gradient takes libnd4j's conv2d_bp: weight and bias gradients must agree (shapes with padding at every edge)
    int[][] cases = {{2, 3, 130, 130, 3, 2, 1}, {1, 3, 140, 132, 7, 2, 3}, {1, 1, 70, 66, 5, 1, 2}};
    for (int[] c : cases) {
      Rng rng = new Rng(13);
      Tensor x = Tensor.randn(rng, c[0], c[1], c[2], c[3]);
      Tensor w = Tensor.randn(rng, 16, c[1], c[4], c[4]).mul(0.1);
      Tensor b = Tensor.randn(rng, 16);
      Tensor g = Tensor.randn(rng, ConvOps.conv2d(x, w, b, new int[] {c[5], c[5]}, new int[] {c[6], c[6]},
          new int[] {1, 1}, 1).shape());
      Tensor[] viaGemm = weightAndBiasGradients(x, w, b, g, c);
      Tensor[] viaBp = weightAndBiasGradients(x.detach().requiresGrad(true), w, b, g, c);
      assertClose(viaGemm[0], viaBp[0], 2e-4, 1e-4, "weight gradient " + java.util.Arrays.toString(c));
      assertClose(viaGemm[1], viaBp[1], 2e-4, 1e-4, "bias gradient " + java.util.Arrays.toString(c));
    }
  }

  @Test
  void frozenWeightInputGradientEqualsConv2dBackward() {
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
      ConvOps.conv2d(xFrozen, w, null, st, pd, new int[] {1, 1}, 1).backward(g);
      Tensor xBoth = x.detach().requiresGrad(true);
      ConvOps.conv2d(xBoth, w.detach().requiresGrad(true), null, st, pd, new int[] {1, 1}, 1).backward(g);
      assertClose(xFrozen.grad(), xBoth.grad(), 1e-5, 1e-5, "input gradient " + java.util.Arrays.toString(c));
    }
  }

  private static Tensor[] weightAndBiasGradients(Tensor x, Tensor w, Tensor b, Tensor g, int[] c) {
    Tensor wl = w.detach().requiresGrad(true);
    Tensor bl = b.detach().requiresGrad(true);
    ConvOps.conv2d(x, wl, bl, new int[] {c[5], c[5]}, new int[] {c[6], c[6]}, new int[] {1, 1}, 1).backward(g);
    return new Tensor[] {wl.grad(), bl.grad()};
  }
}
