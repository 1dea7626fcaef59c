package io.graft.core.backend;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Layout;
import io.graft.core.Tensor;
import io.graft.core.ops.ConvOps;
import io.graft.core.random.Rng;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

/** oneDNN's convolution kernels against libnd4j's, for every geometry, gradient mix and layout. */
class OneDnnConvTest {
  @Test
  void directOneDnnPathIsTakenForFloat32OnLinuxX86() {
    // CI and the benchmarks run linux-x86_64, where the preset ships oneDNN: the fast path must really be on
    if (System.getProperty("os.name").startsWith("Linux") && System.getProperty("os.arch").equals("amd64")
        && Boolean.parseBoolean(System.getProperty(OneDnn.PROPERTY, "true"))) {
      assertTrue(OneDnn.usable(Tensor.zeros(1).data()), "oneDNN direct path unavailable");
    }
    assertFalse(OneDnn.usable(Tensor.zeros(1).to(DataType.DOUBLE).data()), "float64 must use libnd4j");
    Tensor x = Tensor.zeros(1, 2, 5, 5);
    Tensor w = Tensor.zeros(3, 2, 3, 3);
    Conv2dGeometry geo = Conv2dGeometry.check(x, w, null, new int[] {1, 1}, new int[] {1, 1}, new int[] {1, 1}, 1);
    assertFalse(Backends.ONEDNN.supportsConv2d(geo, x.data().castTo(DataType.DOUBLE), w.data().castTo(
        DataType.DOUBLE), null, true), "oneDNN's answer for float64: unsupported");
    assertSame(Backends.LIBND4J, Backends.conv2d(geo, x.data().castTo(DataType.DOUBLE), w.data().castTo(
        DataType.DOUBLE), null, true), "float64 runs on libnd4j");
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
            try (Backends.Pin pin = Backends.pin(path == 0 ? Backends.ONEDNN : Backends.LIBND4J)) {
              outs[path] = ConvOps.conv2d(xi, wi, bi, st, pd, dl, c[11]);
            }
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
}
