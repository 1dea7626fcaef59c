package io.graft.core.backend;

import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import java.util.Arrays;

/**
 * A validated 2-D pooling window (PyTorch's {@code max_pool2d} / {@code avg_pool2d}, {@code ceil_mode=False}):
 * kernel, stride, padding, dilation and the output size {@code (H + 2p - d (k - 1) - 1) / s + 1}. {@link #check}
 * runs every check before any kernel sees the input.
 */
public record Pool2dWindow(int kH, int kW, int sH, int sW, int pH, int pW, int dH, int dW, long hOut, long wOut) {

  /** libnd4j's integer arguments: the window, sameMode 0, {@code extra} (avg: 1 = count padding), NHWC or NCHW. */
  int[] iargs(int extra, boolean nhwc) {
    return new int[] {kH, kW, sH, sW, pH, pW, dH, dW, 0, extra, nhwc ? 1 : 0};
  }

  /** Validates a window over {@code x} {@code (N, C, H, W)}; {@code op} names the op in the error. */
  public static Pool2dWindow check(String op, Tensor x, int[] k, int[] s, int[] p, int[] d) {
    Shapes.requireRank(op, "input", x, 4);
    Shapes.requireFloat(op, "input", x);
    Conv2dGeometry.pair(op, "kernel_size", k, 1);
    Conv2dGeometry.pair(op, "stride", s, 1);
    Conv2dGeometry.pair(op, "padding", p, 0);
    Conv2dGeometry.pair(op, "dilation", d, 1);
    if (2 * p[0] > k[0] || 2 * p[1] > k[1]) {
      throw new ShapeException(op + ": padding " + Arrays.toString(p) + " should be at most half of kernel size "
          + Arrays.toString(k));
    }
    long[] xs = x.shape();
    long effH = (long) d[0] * (k[0] - 1) + 1;
    long effW = (long) d[1] * (k[1] - 1) + 1;
    long ph = xs[2] + 2L * p[0];
    long pw = xs[3] + 2L * p[1];
    if (xs[0] < 1 || xs[1] < 1 || effH > ph || effW > pw) {
      throw ShapeException.of(op, "window " + effH + "x" + effW + " does not fit the padded input " + ph + "x" + pw,
          xs);
    }
    long ho = (ph - effH) / s[0] + 1;
    long wo = (pw - effW) / s[1] + 1;
    return new Pool2dWindow(k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], ho, wo);
  }
}
