package io.graft.core.backend;

import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import java.util.Arrays;

/**
 * A validated 2-D convolution (PyTorch's {@code conv2d}): channels, groups, kernel, stride, padding, dilation and the
 * output size {@code H_out = (H + 2 pH - dH (kH - 1) - 1) / sH + 1}. {@link #check} runs every check before any
 * kernel sees the arrays; the kernels of every backend take the geometry as given.
 */
public record Conv2dGeometry(long cin, long cout, long cinG, long coutG, int groups, int kH, int kW, int sH, int sW,
    int pH, int pW, int dH, int dW, long hOut, long wOut) {

  /** Whether this is a depthwise convolution: groups equal to the input channels, one input channel per group. */
  public boolean depthwise() {
    return groups > 1 && groups == cin && cinG == 1;
  }

  /** The height the dilated kernel spans: {@code dH (kH - 1) + 1}. */
  public long effH() {
    return (long) dH * (kH - 1) + 1;
  }

  /** The width the dilated kernel spans: {@code dW (kW - 1) + 1}. */
  public long effW() {
    return (long) dW * (kW - 1) + 1;
  }

  /** The same convolution with the dilated kernel written out densely. */
  Conv2dGeometry undilated() {
    return new Conv2dGeometry(cin, cout, cinG, coutG, groups, (int) effH(), (int) effW(), sH, sW, pH, pW, 1, 1, hOut,
        wOut);
  }

  int[] iargs(int dataFormat) {
    // kH, kW, sH, sW, pH, pW, dH, dW, paddingMode (0 = explicit), dataFormat (0 = NCHW, 1 = NHWC), wFormat (1 = OIHW)
    return new int[] {kH, kW, sH, sW, pH, pW, dH, dW, 0, dataFormat, 1};
  }

  /**
   * Checks a {@code conv2d} call (input {@code (N, C_in, H, W)}, weight {@code (C_out, C_in / groups, kH, kW)},
   * optional bias {@code (C_out)}, stride, padding and dilation pairs, groups) and returns its geometry; throws {@link
   * ShapeException} naming the argument at fault, before any native call.
   */
  public static Conv2dGeometry check(Tensor x, Tensor w, Tensor b, int[] stride, int[] padding, int[] dilation, int groups) {
    String op = "conv2d";
    Shapes.requireRank(op, "input", x, 4);
    Shapes.requireRank(op, "weight", w, 4);
    Shapes.requireSameDtype(op, x, w);
    Shapes.requireFloat(op, "input", x);
    pair(op, "stride", stride, 1);
    pair(op, "padding", padding, 0);
    pair(op, "dilation", dilation, 1);
    long[] xs = x.shape();
    long[] ws = w.shape();
    if (groups < 1) {
      throw new ShapeException(op + ": groups must be >= 1, got " + groups);
    }
    if (xs[1] != ws[1] * groups) {
      throw ShapeException.of(op, "input has " + xs[1] + " channels but weight expects " + ws[1] + " x groups "
          + groups + " = " + ws[1] * groups, xs, ws);
    }
    if (ws[0] % groups != 0) {
      throw ShapeException.of(op, "out_channels " + ws[0] + " not divisible by groups " + groups, ws);
    }
    if (b != null) {
      Shapes.requireSameDtype(op, x, b);
      if (b.rank() != 1 || b.shape()[0] != ws[0]) {
        throw ShapeException.of(op, "bias must have shape [" + ws[0] + "]", b.shape(), ws);
      }
    }
    if (ws[2] < 1 || ws[3] < 1 || xs[0] < 1 || xs[1] < 1) {
      throw ShapeException.of(op, "empty input or kernel", xs, ws);
    }
    long effH = (long) dilation[0] * (ws[2] - 1) + 1;
    long effW = (long) dilation[1] * (ws[3] - 1) + 1;
    long ph = xs[2] + 2L * padding[0];
    long pw = xs[3] + 2L * padding[1];
    if (effH > ph || effW > pw) {
      throw ShapeException.of(op, "kernel (dilated " + effH + "x" + effW + ") is larger than the padded input ("
          + ph + "x" + pw + ")", xs, ws);
    }
    long ho = (ph - effH) / stride[0] + 1;
    long wo = (pw - effW) / stride[1] + 1;
    Shapes.checkNew(op, new long[] {xs[0], ws[0], ho, wo});
    return new Conv2dGeometry(xs[1], ws[0], ws[1], ws[0] / groups, groups, (int) ws[2], (int) ws[3], stride[0],
        stride[1], padding[0], padding[1], dilation[0], dilation[1], ho, wo);
  }

  /** Checks a (height, width) argument: two values, each at least {@code min}. */
  public static void pair(String op, String name, int[] v, int min) {
    if (v == null || v.length != 2) {
      throw new ShapeException(op + ": " + name + " must have 2 values (h, w), got " + Arrays.toString(v));
    }
    if (v[0] < min || v[1] < min) {
      throw new ShapeException(op + ": " + name + " must be >= " + min + ", got " + Arrays.toString(v));
    }
  }
}
