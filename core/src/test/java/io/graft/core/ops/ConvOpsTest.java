package io.graft.core.ops;

import static io.graft.testing.TensorAssert.assertClose;
import static io.graft.testing.TensorAssert.assertIdentical;

import io.graft.core.Layout;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import org.nd4j.linalg.api.buffer.DataType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
  void directOneDnnPathIsTakenForFloat32OnLinuxX86() {
    // CI and the benchmarks run linux-x86_64, where the preset ships oneDNN: the fast path must really be on
    if (System.getProperty("os.name").startsWith("Linux") && System.getProperty("os.arch").equals("amd64")
        && Boolean.parseBoolean(System.getProperty(OneDnn.PROPERTY, "true"))) {
      assertTrue(OneDnn.usable(Tensor.zeros(1).data()), "oneDNN direct path unavailable");
    }
    assertFalse(OneDnn.usable(Tensor.zeros(1).to(DataType.DOUBLE).data()), "float64 must use libnd4j");
  }

  @Test
  void directOneDnnConvolutionEqualsLibnd4jForEveryGeometryAndGradientMix() {
    // {N, C_in, H, W, C_out, k, stride h, stride w, pad h, pad w, dilation, groups, bias}
    int[][] cases = {
        {2, 3, 33, 31, 8, 7, 2, 2, 3, 3, 1, 1, 0}, // stem-like, odd sizes
        {2, 16, 14, 14, 16, 3, 1, 1, 1, 1, 1, 1, 1}, // 3x3 same, bias
        {2, 16, 15, 15, 32, 3, 2, 2, 1, 1, 1, 1, 0}, // stride 2 over an odd size
        {2, 16, 13, 13, 8, 1, 2, 2, 0, 0, 1, 1, 1}, // 1x1 downsample
        {1, 8, 12, 10, 8, 3, 1, 2, 2, 1, 2, 1, 1}, // dilation 2, unequal stride and padding
        {2, 8, 9, 9, 8, 3, 1, 1, 1, 1, 1, 8, 0}, // depthwise
        {2, 4, 9, 9, 8, 3, 2, 2, 1, 1, 1, 4, 1}, // depthwise, multiplier 2
        {2, 8, 9, 9, 12, 3, 1, 1, 1, 1, 1, 2, 1}, // groups 2
        {3, 5, 6, 6, 7, 6, 1, 1, 0, 0, 1, 1, 1}, // kernel as large as the input
        {2, 8, 4, 4, 16, 3, 2, 2, 1, 1, 1, 1, 0}, // a 2x2 output (forward in oneDNN's blocked layout)
    };
    for (int[] c : cases) {
      for (int variant = 0; variant < 16; variant++) {
        boolean needX = (variant & 1) != 0; // which of input and weight need a gradient
        boolean needW = (variant & 2) != 0;
        boolean clMode = (variant & 4) == 0; // outputs stored channels_last (the default) or C order
        boolean clIn = (variant & 8) != 0; // input and output gradient given channels_last
        Rng rng = new Rng(23);
        Tensor x = Tensor.randn(rng, c[0], c[1], c[2], c[3]);
        Tensor w = Tensor.randn(rng, c[4], c[1] / c[11], c[5], c[5]).mul(0.2);
        Tensor b = c[12] == 1 ? Tensor.randn(rng, c[4]) : null;
        int[] st = {c[6], c[7]};
        int[] pd = {c[8], c[9]};
        int[] dl = {c[10], c[10]};
        Tensor[][] grads = new Tensor[2][];
        Tensor[] outs = new Tensor[2];
        Tensor g = null;
        boolean was = OneDnn.channelsLast(clMode);
        try {
          for (int path = 0; path < 2; path++) {
            Tensor x0 = path == 0 && clIn ? channelsLast(x) : x;
            Tensor xi = needX ? x0.detach().requiresGrad(true) : x0;
            Tensor wi = needW ? w.detach().requiresGrad(true) : w;
            Tensor bi = b == null ? null : b.detach().requiresGrad(true);
            ConvOps.Geometry geo = ConvOps.Geometry.check(xi, wi, bi, st, pd, dl, c[11]);
            outs[path] = path == 0 ? ConvOps.direct(xi, wi, bi, geo) : ConvOps.libnd4j(xi, wi, bi, geo);
            if (g == null) {
              g = Tensor.randn(new Rng(29), outs[path].shape());
            }
            if (needX || needW || bi != null) {
              outs[path].backward(path == 0 && clIn ? channelsLast(g) : g);
            }
            grads[path] = new Tensor[] {needX ? xi.grad() : null, needW ? wi.grad() : null,
                bi == null ? null : bi.grad()};
          }
        } finally {
          OneDnn.channelsLast(was);
        }
        String what = java.util.Arrays.toString(c) + " needX " + needX + " needW " + needW + " channels_last output "
            + clMode + " channels_last input " + clIn;
        long[] ys = outs[0].shape();
        assertTrue(ys[2] * ys[3] == 1 || Layout.isChannelsLast(outs[0].data()) == clMode, "output layout " + what);
        assertClose(outs[0], outs[1], 1e-4, 1e-5, "output " + what);
        for (int k = 0; k < 3; k++) {
          if (grads[1][k] != null) {
            assertClose(grads[0][k], grads[1][k], 2e-4, 1e-4, "gradient " + k + " " + what);
          }
        }
      }
    }
  }

  private static Tensor channelsLast(Tensor t) {
    return Tensor.of(Layout.uninitializedChannelsLast(DataType.FLOAT, t.shape()).assign(t.data()));
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

  private static Tensor nd4j(Tensor x, Tensor w, Tensor b, int[] st, int[] pd, int[] dl, int groups) {
    return ConvOps.libnd4j(x, w, b, ConvOps.Geometry.check(x, w, b, st, pd, dl, groups));
  }
}
