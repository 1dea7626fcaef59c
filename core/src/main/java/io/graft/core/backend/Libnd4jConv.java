package io.graft.core.backend;

import io.graft.core.Layout;
import io.graft.core.NativeMemory;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * 2-D convolution on libnd4j's kernels, any dtype: {@code conv2d}/{@code conv2d_bp}, depthwise convolution
 * ({@code groups == in_channels}) on {@code depthwise_conv2d}, other group counts group by group; a dilated kernel
 * runs as a dense kernel with zeros between its taps (oneDNN, inside libnd4j, rejects libnd4j's dilated
 * descriptors).
 */
final class Libnd4jConv {
  private Libnd4jConv() {}

  static INDArray forward(Conv2dGeometry checked, INDArray x, INDArray w, INDArray b) {
    Conv2dGeometry geo = dense(checked);
    INDArray xv = contiguous(x);
    INDArray wv = weight(w, checked);
    int groups = geo.groups();
    if (groups == 1) {
      return forward("conv2d", xv, wv, b, geo);
    }
    if (geo.depthwise()) {
      return forward("depthwise_conv2d", xv, depthwiseWeight(wv, geo), b, geo);
    }
    INDArray[] parts = new INDArray[groups];
    for (int g = 0; g < groups; g++) {
      parts[g] = forward("conv2d", channels(xv, g, geo.cinG()), filters(wv, g, geo.coutG()),
          b == null ? null : b.get(NDArrayIndex.interval(g * geo.coutG(), (g + 1) * geo.coutG())), geo);
    }
    return Nd4j.concat(1, parts);
  }

  /** {@code {dx, dw, db}}: dx = conv_transpose(g, w); dw = correlation of x with g; db = sum of g over N, H, W. */
  static INDArray[] backward(Conv2dGeometry checked, INDArray x, INDArray w, INDArray b, INDArray g, boolean needX,
      boolean needW, boolean needB) {
    Conv2dGeometry geo = dense(checked);
    INDArray wv = weight(w, checked);
    if (geo.groups() == 1 && !needW) {
      // frozen weights: the input gradient alone (if wanted), without conv2d_bp's weight gradient
      return new INDArray[] {needX ? inputGradient(wv, g, geo, x.shape()) : null, null,
          b == null || !needB ? null : Channels.sum(g)};
    }
    INDArray xv = contiguous(x);
    INDArray[] r;
    if (geo.groups() == 1) {
      r = backward("conv2d_bp", xv, wv, b, g, geo);
    } else if (geo.depthwise()) {
      r = backward("depthwise_conv2d_bp", xv, depthwiseWeight(wv, geo), b, g, geo);
      r[1] = depthwiseWeightBack(r[1], geo);
    } else {
      r = groupedBackward(xv, wv, b, g, geo);
    }
    if (geo != checked && r[1] != null) {
      r[1] = taps(r[1], checked).dup('c');
    }
    return r;
  }

  /** The geometry the kernels run: a dilated kernel as a dense one with its zeros written out. */
  private static Conv2dGeometry dense(Conv2dGeometry geo) {
    return geo.dH() > 1 || geo.dW() > 1 ? geo.undilated() : geo;
  }

  private static INDArray weight(INDArray w, Conv2dGeometry checked) {
    return checked.dH() > 1 || checked.dW() > 1 ? dilate(w, checked) : contiguous(w);
  }

  private static INDArray contiguous(INDArray a) {
    return Layout.isCOrdered(a) ? a : a.dup('c');
  }

  private static INDArray forward(String kernel, INDArray x, INDArray w, INDArray b, Conv2dGeometry geo) {
    long cout = kernel.equals("conv2d") ? w.size(0) : w.size(0) * w.size(1);
    // the kernels write every element of their outputs: no need to zero them first
    INDArray out = NativeMemory.uninitialized(x.dataType(), x.size(0), cout, geo.hOut(), geo.wOut());
    INDArray[] in = b == null ? new INDArray[] {x, w} : new INDArray[] {x, w, b};
    Nd4j.exec(DynamicCustomOp.builder(kernel).addInputs(in).addOutputs(out).addIntegerArguments(geo.iargs(0))
        .build());
    return out;
  }

  private static INDArray[] backward(String kernel, INDArray x, INDArray w, INDArray b, INDArray g, Conv2dGeometry geo) {
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
   * too, which costs about twice this.
   * When the windows tile the padded input exactly it runs with the layer's padding straight into the gradient;
   * otherwise (a stride that does not divide the padded size: libnd4j's deconv2d has no output padding) it runs
   * unpadded and is cropped, and rows and columns no window reached get a zero gradient. Undilated geometry only
   * (a dilated kernel arrives here with its zeros inserted).
   */
  private static INDArray inputGradient(INDArray w, INDArray g, Conv2dGeometry geo, long[] xShape) {
    long h = xShape[2];
    long wd = xShape[3];
    long fullH = (long) geo.sH() * (geo.hOut() - 1) + geo.kH();
    long fullW = (long) geo.sW() * (geo.wOut() - 1) + geo.kW();
    INDArray gc = contiguous(g);
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

  private static INDArray[] groupedBackward(INDArray x, INDArray w, INDArray b, INDArray g, Conv2dGeometry geo) {
    INDArray gx = NativeMemory.uninitialized(x.dataType(), x.shape());
    INDArray gw = NativeMemory.uninitialized(w.dataType(), w.shape());
    INDArray gb = b == null ? null : NativeMemory.uninitialized(b.dataType(), b.shape());
    for (int k = 0; k < geo.groups(); k++) {
      INDArray bk = b == null ? null : b.get(NDArrayIndex.interval(k * geo.coutG(), (k + 1) * geo.coutG()));
      INDArray[] r = backward("conv2d_bp", channels(x, k, geo.cinG()), filters(w, k, geo.coutG()), bk,
          channels(g, k, geo.coutG()), geo);
      channels(gx, k, geo.cinG()).assign(r[0]);
      filters(gw, k, geo.coutG()).assign(r[1]);
      if (gb != null) {
        gb.get(NDArrayIndex.interval(k * geo.coutG(), (k + 1) * geo.coutG())).assign(r[2]);
      }
    }
    return new INDArray[] {gx, gw, gb};
  }

  /** The weight with {@code d - 1} zeros between neighbouring taps. */
  private static INDArray dilate(INDArray w, Conv2dGeometry geo) {
    INDArray wd = NativeMemory.zeros(w.dataType(), w.size(0), w.size(1), geo.effH(), geo.effW());
    taps(wd, geo).assign(w);
    return wd;
  }

  /** View of the tap positions of a dilated kernel. */
  private static INDArray taps(INDArray wd, Conv2dGeometry geo) {
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
  private static INDArray depthwiseWeight(INDArray w, Conv2dGeometry geo) {
    long c = geo.cin();
    long m = geo.cout() / c;
    return w.reshape('c', c, m, w.size(2), w.size(3)).permute(1, 0, 2, 3).dup('c');
  }

  private static INDArray depthwiseWeightBack(INDArray gw, Conv2dGeometry geo) {
    long c = geo.cin();
    long m = geo.cout() / c;
    return gw.permute(1, 0, 2, 3).dup('c').reshape('c', c * m, 1, gw.size(2), gw.size(3));
  }

}
