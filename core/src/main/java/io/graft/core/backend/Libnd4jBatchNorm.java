package io.graft.core.backend;

import io.graft.core.NativeMemory;
import io.graft.core.autograd.Broadcast;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Batch normalisation on libnd4j, any dtype and rank: forward and backward written out as per-channel reductions
 * and one fused affine pass each ({@link Channels}), rather than libnd4j's {@code batchnorm_bp}, which is an order
 * of magnitude slower than PyTorch's.
 */
final class Libnd4jBatchNorm implements BatchNormPass {
  private final INDArray x;
  private final INDArray y;
  private final INDArray mean;
  private final INDArray var;
  private final INDArray invstd;
  /** weight * invstd per channel. */
  private final INDArray a;
  private final boolean batchStats;
  private final long n;

  private Libnd4jBatchNorm(INDArray x, INDArray y, INDArray mean, INDArray var, INDArray invstd, INDArray a,
      boolean batchStats, long n) {
    this.x = x;
    this.y = y;
    this.mean = mean;
    this.var = var;
    this.invstd = invstd;
    this.a = a;
    this.batchStats = batchStats;
    this.n = n;
  }

  static BatchNormPass forward(INDArray x, INDArray weight, INDArray bias, INDArray givenMean, INDArray givenVar,
      double eps) {
    INDArray xv = contiguous(x);
    long c = xv.size(1);
    long n = xv.length() / Math.max(c, 1);
    INDArray mean = givenMean;
    INDArray var = givenVar;
    boolean batchStats = givenMean == null;
    if (batchStats) {
      mean = Channels.sum(xv).divi(n);
      long[] bshape = new long[xv.rank()];
      java.util.Arrays.fill(bshape, 1);
      bshape[1] = c;
      INDArray centered = Broadcast.apply("batch_norm", "subtract", xv, mean.reshape(bshape));
      var = Channels.sumOfSquares(centered).divi(n);   // two-pass variance, as PyTorch
      NativeMemory.release(centered);
    }
    INDArray invstd = Transforms.pow(var.add(eps), -0.5, false);   // (C)
    // y = x * a + b per channel, a = weight * invstd, b = bias - mean * a: one fused pass of libnd4j's batchnorm
    INDArray a = weight == null ? invstd.dup() : weight.mul(invstd);
    INDArray shift = mean.mul(a).negi();
    if (bias != null) {
      shift.addi(bias);
    }
    INDArray y = Channels.affine(xv, a, shift);
    return new Libnd4jBatchNorm(xv, y, mean, var, invstd, a, batchStats, n);
  }

  private static INDArray contiguous(INDArray a) {
    return io.graft.core.Layout.isCOrdered(a) ? a : a.dup('c');
  }

  @Override
  public INDArray output() {
    return y;
  }

  @Override
  public INDArray mean() {
    return mean;
  }

  @Override
  public INDArray var() {
    return var;
  }

  @Override
  public INDArray[] backward(INDArray g, boolean needX, boolean needWeight, boolean needBias) {
    INDArray[] r = new INDArray[3];
    INDArray gc = contiguous(g);
    INDArray sg = Channels.sum(gc);                           // sum(g)
    // sum(g * xhat) = invstd * (sum(g * x) - mean * sum(g))
    INDArray sgx = needWeight || (needX && batchStats) ? Channels.dot(gc, x).subi(mean.mul(sg)).muli(invstd) : null;
    if (needWeight) {
      r[1] = sgx.dup();                                       // dweight = sum(g * xhat)
    }
    if (needBias) {
      r[2] = sg.dup();                                        // dbias = sum(g)
    }
    if (needX) {
      if (batchStats) {
        // dx = a * (g - mean(g) - xhat * mean(g * xhat)) = g * a + x * B + C per channel
        INDArray bCoef = a.mul(invstd).muli(sgx).divi(-n);
        INDArray cCoef = a.mul(sg).divi(-n).subi(bCoef.mul(mean));
        INDArray gx = Channels.affine(gc, a, null);
        INDArray xPart = Channels.affine(x, bCoef, cCoef);
        gx.addi(xPart);
        NativeMemory.release(xPart);
        r[0] = gx;
      } else {
        r[0] = Channels.affine(gc, a, null);                  // dx = g * weight * invstd
      }
    }
    return r;
  }

  @Override
  public void release() {
    NativeMemory.release(y);
  }
}
