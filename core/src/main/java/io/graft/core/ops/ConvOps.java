package io.graft.core.ops;

import io.graft.core.NativeMemory;
import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Autograd;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * 2-D convolution (cross-correlation, as in PyTorch). Float32 on the CPU runs oneDNN's primitives directly
 * ({@link OneDnnConv}); otherwise (float64, which oneDNN's CPU convolutions lack, {@code -Dgraft.onednn=false}, or
 * the CUDA backend) libnd4j's {@code conv2d}/{@code conv2d_bp} kernels, depthwise convolution
 * ({@code groups == in_channels}) on {@code depthwise_conv2d}, other group counts group by group.
 */
public final class ConvOps {
  private ConvOps() {}

  /**
   * y = conv2d(x, w) + b.
   *
   * <p>Shapes: x {@code (N, C_in, H, W)}, w {@code (C_out, C_in / groups, kH, kW)}, b {@code (C_out)} or null,
   * y {@code (N, C_out, H_out, W_out)} with {@code H_out = (H + 2 pH - dH (kH - 1) - 1) / sH + 1}.
   *
   * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.functional.conv2d.html">torch.nn.functional.conv2d</a>
   */
  public static Tensor conv2d(Tensor x, Tensor w, Tensor b, int[] stride, int[] padding, int[] dilation, int groups) {
    Geometry checked = Geometry.check(x, w, b, stride, padding, dilation, groups);
    if (OneDnn.usable(x.data(), w.data(), b == null ? null : b.data())) {
      try {
        return direct(x, w, b, checked);
      } catch (OneDnn.Unsupported e) {
        // a shape oneDNN has no primitive for: libnd4j's kernels below
      }
    }
    return libnd4j(x, w, b, checked);
  }

  /** Float32 on the CPU: oneDNN's primitives called directly ({@link OneDnnConv}), any geometry. */
  static Tensor direct(Tensor x, Tensor w, Tensor b, Geometry geo) {
    INDArray xv = x.data();
    INDArray wv = w.data();
    INDArray out = OneDnnConv.forward(xv, wv, b == null ? null : b.data(), geo, Autograd.willRecord(x, w, b));
    long[] xShape = xv.shape();
    Tensor[] inputs = b == null ? new Tensor[] {x, w} : new Tensor[] {x, w, b};
    return Autograd.recordJoint("conv2d", out, inputs, (g, needs) -> {
      INDArray[] r = needs[0] || needs[1]
          ? OneDnnConv.backward(xv, wv, g, xShape, geo, b != null, needs[0], needs[1])
          : new INDArray[3];
      if (b == null) {
        return new INDArray[] {r[0], r[1]};
      }
      if (!needs[2]) {
        NativeMemory.release(r[2]);
        r[2] = null;
      }
      // the bias gradient comes with the weight gradient; alone (frozen weights, trainable bias) it is a sum
      return new INDArray[] {r[0], r[1], needs[2] ? (r[2] != null ? r[2] : NormOps.channelSum(g)) : null};
    });
  }

  /** libnd4j's kernels: float64 (oneDNN's CPU convolutions are float32 only), and any dtype off the CPU. */
  static Tensor libnd4j(Tensor x, Tensor w, Tensor b, Geometry checked) {
    int groups = checked.groups();
    // oneDNN rejects libnd4j's dilated descriptors, so a dilated kernel runs as a dense kernel with zeros
    // inserted between its taps (same result; the weight gradient is read back at the tap positions)
    boolean dilated = checked.dH() > 1 || checked.dW() > 1;
    Geometry geo = dilated ? checked.undilated() : checked;
    INDArray xv = ShapeOps.contiguous(x.data());
    INDArray wv = dilated ? dilate(w.data(), checked) : ShapeOps.contiguous(w.data());
    INDArray bv = b == null ? null : b.data();
    INDArray out;
    if (groups == 1) {
      out = forward("conv2d", xv, wv, bv, geo);
    } else if (geo.depthwise()) {
      out = forward("depthwise_conv2d", xv, depthwiseWeight(wv, geo), bv, geo);
    } else {
      INDArray[] parts = new INDArray[groups];
      for (int g = 0; g < groups; g++) {
        parts[g] = forward("conv2d", channels(xv, g, geo.cinG), filters(wv, g, geo.coutG),
            bv == null ? null : bv.get(NDArrayIndex.interval(g * geo.coutG, (g + 1) * geo.coutG)), geo);
      }
      out = Nd4j.concat(1, parts);
    }
    Tensor[] inputs = b == null ? new Tensor[] {x, w} : new Tensor[] {x, w, b};
    return Autograd.recordJoint("conv2d", out, inputs, (g, needs) -> {
      // dx = conv_transpose(g, w); dw = correlation of x with g; db = sum of g over N, H, W
      INDArray[] r;
      if (groups == 1 && !needs[1]) {
        // frozen weights: the input gradient alone (if wanted), without conv2d_bp's weight gradient
        r = new INDArray[] {needs[0] ? inputGradient(wv, g, geo, xv.shape()) : null, null,
            bv == null ? null : NormOps.channelSum(g)};
      } else if (groups == 1) {
        r = backward("conv2d_bp", xv, wv, bv, g, geo);
      } else if (geo.depthwise()) {
        r = backward("depthwise_conv2d_bp", xv, depthwiseWeight(wv, geo), bv, g, geo);
        r[1] = depthwiseWeightBack(r[1], geo);
      } else {
        r = groupedBackward(xv, wv, bv, g, geo);
      }
      if (dilated && r[1] != null) {
        r[1] = taps(r[1], checked).dup('c');
      }
      return b == null ? new INDArray[] {r[0], r[1]} : r;
    });
  }

  private static INDArray forward(String kernel, INDArray x, INDArray w, INDArray b, Geometry geo) {
    long cout = kernel.equals("conv2d") ? w.size(0) : w.size(0) * w.size(1);
    // the kernels write every element of their outputs: no need to zero them first
    INDArray out = NativeMemory.uninitialized(x.dataType(), x.size(0), cout, geo.hOut, geo.wOut);
    INDArray[] in = b == null ? new INDArray[] {x, w} : new INDArray[] {x, w, b};
    Nd4j.exec(DynamicCustomOp.builder(kernel).addInputs(in).addOutputs(out).addIntegerArguments(geo.iargs(0))
        .build());
    return out;
  }

  private static INDArray[] backward(String kernel, INDArray x, INDArray w, INDArray b, INDArray g, Geometry geo) {
    INDArray gx = NativeMemory.uninitialized(x.dataType(), x.shape());
    INDArray gw = NativeMemory.uninitialized(w.dataType(), w.shape());
    INDArray gb = b == null ? null : NativeMemory.uninitialized(b.dataType(), b.shape());
    INDArray[] in = b == null ? new INDArray[] {x, w, g} : new INDArray[] {x, w, b, g};
    INDArray[] outs = b == null ? new INDArray[] {gx, gw} : new INDArray[] {gx, gw, gb};
    Nd4j.exec(DynamicCustomOp.builder(kernel).addInputs(in).addOutputs(outs).addIntegerArguments(geo.iargs(0))
        .build());
    return new INDArray[] {gx, gw, gb};
  }

  /**
   * The input gradient alone — the transposed convolution of {@code g} with {@code w} — on libnd4j's oneDNN
   * {@code deconv2d}, for a layer whose weights are frozen. {@code conv2d_bp} always computes the weight gradient
   * too: measured at 8×64×56² 3×3, 26 ms for both against 9 ms for this (8×128×28²: 19 against 11; results equal).
   * When the windows tile the padded input exactly it runs with the layer's padding straight into the gradient;
   * otherwise (a stride that does not divide the padded size: libnd4j's deconv2d has no output padding) it runs
   * unpadded and is cropped, and rows and columns no window reached get a zero gradient. Undilated geometry only
   * (a dilated kernel arrives here with its zeros inserted).
   */
  static INDArray inputGradient(INDArray w, INDArray g, Geometry geo, long[] xShape) {
    long h = xShape[2];
    long wd = xShape[3];
    long fullH = (long) geo.sH() * (geo.hOut() - 1) + geo.kH();
    long fullW = (long) geo.sW() * (geo.wOut() - 1) + geo.kW();
    INDArray gc = ShapeOps.contiguous(g);
    if (fullH - 2L * geo.pH() == h && fullW - 2L * geo.pW() == wd) {
      // the windows tile the padded input exactly (every stride-1 layer): the padded deconvolution is the gradient
      INDArray gx = NativeMemory.uninitialized(g.dataType(), xShape);
      Nd4j.exec(DynamicCustomOp.builder("deconv2d").addInputs(gc, w).addOutputs(gx).addIntegerArguments(geo.kH(),
          geo.kW(), geo.sH(), geo.sW(), geo.pH(), geo.pW(), 1, 1, 0, 0, 1).build());
      return gx;
    }
    INDArray full = NativeMemory.uninitialized(g.dataType(), xShape[0], xShape[1], fullH, fullW);
    Nd4j.exec(DynamicCustomOp.builder("deconv2d").addInputs(gc, w).addOutputs(full)
        .addIntegerArguments(geo.kH(), geo.kW(), geo.sH(), geo.sW(), 0, 0, 1, 1, 0, 0, 1).build());
    // full covers padded rows [0, fullH); the input is padded rows [pH, pH + h)
    long rows = Math.min(h, fullH - geo.pH());
    long cols = Math.min(wd, fullW - geo.pW());
    INDArray gx;
    if (rows <= 0 || cols <= 0) { // padding so wide that no window reaches the input
      gx = NativeMemory.zeros(g.dataType(), xShape);
    } else {
      INDArray crop = full.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(geo.pH(),
          geo.pH() + rows), NDArrayIndex.interval(geo.pW(), geo.pW() + cols));
      if (rows == h && cols == wd) {
        gx = crop.dup('c');
      } else {
        gx = NativeMemory.zeros(g.dataType(), xShape);
        gx.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(0, rows), NDArrayIndex.interval(0, cols))
            .assign(crop);
      }
    }
    NativeMemory.release(full);
    return gx;
  }

  private static INDArray[] groupedBackward(INDArray x, INDArray w, INDArray b, INDArray g, Geometry geo) {
    INDArray gx = NativeMemory.uninitialized(x.dataType(), x.shape());
    INDArray gw = NativeMemory.uninitialized(w.dataType(), w.shape());
    INDArray gb = b == null ? null : NativeMemory.uninitialized(b.dataType(), b.shape());
    for (int k = 0; k < geo.groups; k++) {
      INDArray bk = b == null ? null : b.get(NDArrayIndex.interval(k * geo.coutG, (k + 1) * geo.coutG));
      INDArray[] r = backward("conv2d_bp", channels(x, k, geo.cinG), filters(w, k, geo.coutG), bk,
          channels(g, k, geo.coutG), geo);
      channels(gx, k, geo.cinG).assign(r[0]);
      filters(gw, k, geo.coutG).assign(r[1]);
      if (gb != null) {
        gb.get(NDArrayIndex.interval(k * geo.coutG, (k + 1) * geo.coutG)).assign(r[2]);
      }
    }
    return new INDArray[] {gx, gw, gb};
  }

  /** The weight with {@code d - 1} zeros between neighbouring taps. */
  private static INDArray dilate(INDArray w, Geometry geo) {
    INDArray wd = NativeMemory.zeros(w.dataType(), w.size(0), w.size(1), geo.effH(), geo.effW());
    taps(wd, geo).assign(w);
    return wd;
  }

  /** View of the tap positions of a dilated kernel. */
  private static INDArray taps(INDArray wd, Geometry geo) {
    return wd.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(0, geo.dH(), geo.effH()),
        NDArrayIndex.interval(0, geo.dW(), geo.effW()));
  }

  /** Channels {@code [k*size, (k+1)*size)} of an activation (dimension 1). */
  private static INDArray channels(INDArray a, int k, long size) {
    return a.get(NDArrayIndex.all(), NDArrayIndex.interval(k * size, (k + 1) * size), NDArrayIndex.all(),
        NDArrayIndex.all());
  }

  /** Output channels {@code [k*size, (k+1)*size)} of a weight (dimension 0). */
  private static INDArray filters(INDArray w, int k, long size) {
    return w.get(NDArrayIndex.interval(k * size, (k + 1) * size), NDArrayIndex.all(), NDArrayIndex.all(),
        NDArrayIndex.all());
  }

  /** PyTorch depthwise weight {@code (C*M, 1, kH, kW)} as libnd4j's {@code (M, C, kH, kW)} (wFormat 1). */
  private static INDArray depthwiseWeight(INDArray w, Geometry geo) {
    long c = geo.cin;
    long m = geo.cout / c;
    return w.reshape('c', c, m, w.size(2), w.size(3)).permute(1, 0, 2, 3).dup('c');
  }

  private static INDArray depthwiseWeightBack(INDArray gw, Geometry geo) {
    long c = geo.cin;
    long m = geo.cout / c;
    return gw.permute(1, 0, 2, 3).dup('c').reshape('c', c * m, 1, gw.size(2), gw.size(3));
  }

  /** Validated convolution geometry; every check runs before native code. */
  record Geometry(long cin, long cout, long cinG, long coutG, int groups, int kH, int kW, int sH, int sW, int pH,
      int pW, int dH, int dW, long hOut, long wOut) {

    boolean depthwise() {
      return groups > 1 && groups == cin && cinG == 1;
    }

    long effH() {
      return (long) dH * (kH - 1) + 1;
    }

    long effW() {
      return (long) dW * (kW - 1) + 1;
    }

    /** The same convolution with the dilated kernel written out densely. */
    Geometry undilated() {
      return new Geometry(cin, cout, cinG, coutG, groups, (int) effH(), (int) effW(), sH, sW, pH, pW, 1, 1, hOut, wOut);
    }

    int[] iargs(int dataFormat) {
      // kH, kW, sH, sW, pH, pW, dH, dW, paddingMode (0 = explicit), dataFormat (0 = NCHW, 1 = NHWC), wFormat (1 = OIHW)
      return new int[] {kH, kW, sH, sW, pH, pW, dH, dW, 0, dataFormat, 1};
    }

    static Geometry check(Tensor x, Tensor w, Tensor b, int[] stride, int[] padding, int[] dilation, int groups) {
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
      return new Geometry(xs[1], ws[0], ws[1], ws[0] / groups, groups, (int) ws[2], (int) ws[3], stride[0], stride[1],
          padding[0], padding[1], dilation[0], dilation[1], ho, wo);
    }
  }

  static void pair(String op, String name, int[] v, int min) {
    if (v == null || v.length != 2) {
      throw new ShapeException(op + ": " + name + " must have 2 values (h, w), got " + Arrays.toString(v));
    }
    if (v[0] < min || v[1] < min) {
      throw new ShapeException(op + ": " + name + " must be >= " + min + ", got " + Arrays.toString(v));
    }
  }
}
