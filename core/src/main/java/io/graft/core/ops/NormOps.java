package io.graft.core.ops;

import io.graft.core.GraftException;
import io.graft.core.NativeMemory;
import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Autograd;
import io.graft.core.autograd.Broadcast;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Batch normalisation over dimension 1 of {@code (N, C)}, {@code (N, C, L)} or {@code (N, C, H, W)} input.
 * In float32 on the CPU it runs oneDNN's primitive ({@link OneDnnBatchNorm}); otherwise (float64,
 * {@code -Dgraft.onednn=false}, CUDA) forward and backward are written out here
 * rather than calling libnd4j's {@code batchnorm_bp}, which was measured 11–14× slower than PyTorch's.
 */
public final class NormOps {
  private NormOps() {}

  /**
   * y = (x - mean) / sqrt(var + eps) * weight + bias.
   *
   * <p>With {@code training} (or without running statistics) mean and (biased) variance come from the batch,
   * and the running statistics, when given, are updated in place:
   * {@code running = (1 - momentum) * running + momentum * batch}, using the unbiased variance for
   * {@code runningVar} (PyTorch's rule). Otherwise the running statistics normalise.
   *
   * @param runningMean {@code (C)} or null
   * @param runningVar {@code (C)} or null
   * @param weight {@code (C)} or null (affine=False)
   * @param bias {@code (C)} or null
   * @param momentum the update factor for running statistics
   * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.functional.batch_norm.html">F.batch_norm</a>
   */
  public static Tensor batchNorm(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
      boolean training, double momentum, double eps) {
    return batchNorm(x, runningMean, runningVar, weight, bias, training, momentum, eps, true, false);
  }

  /**
   * {@code relu(batchNorm(...))}, the pair in every ResNet block. Training on 4-D float32 input, one oneDNN pass
   * computes both (its fused ReLU keeps a bit mask for the backward), which saves the ReLU's pass over the
   * activation each way and the batch norm's output array; elsewhere, the two ops. NaN propagates as in PyTorch:
   * oneDNN's fused ReLU turns NaN into 0, so when a batch statistic or an affine parameter is not finite (the only
   * way to a NaN output) the two ops run apart.
   */
  public static Tensor batchNormRelu(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
      boolean training, double momentum, double eps) {
    return batchNorm(x, runningMean, runningVar, weight, bias, training, momentum, eps, true, true);
  }

  /**
   * {@link #batchNorm}, and {@link #batchNormRelu} with {@code relu}; {@code allowOneDnn} false keeps float32 on the
   * libnd4j composition (for tests).
   */
  static Tensor batchNorm(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
      boolean training, double momentum, double eps, boolean allowOneDnn, boolean relu) {
    String op = "batch_norm";
    Shapes.requireRank(op, "input", x, 2, 3, 4);
    Shapes.requireFloat(op, "input", x);
    long[] xs = x.shape();
    long c = xs[1];
    for (Tensor t : new Tensor[] {runningMean, runningVar, weight, bias}) {
      if (t != null && (t.rank() != 1 || t.shape()[0] != c)) {
        throw ShapeException.of(op, "per-channel tensors must have shape [" + c + "]", t.shape(), xs);
      }
      if (t != null) {
        Shapes.requireSameDtype(op, x, t);
      }
    }
    if ((runningMean == null) != (runningVar == null)) {
      throw new GraftException(op + ": running_mean and running_var must both be given or both be null");
    }
    long n = x.numel() / Math.max(c, 1);
    long[] bshape = channelShape(xs.length, c);
    boolean useBatch = training || runningMean == null;
    if (useBatch && n <= 1) {
      throw ShapeException.of(op, "expected more than 1 value per channel when training", xs);
    }
    if (allowOneDnn && OneDnn.usable(x.data(), weight == null ? null : weight.data(),
        bias == null ? null : bias.data())) {
      try {
        return direct(x, runningMean, runningVar, weight, bias, useBatch, training, momentum, eps, relu);
      } catch (OneDnn.Unsupported e) {
        // a shape oneDNN has no primitive for: the composition below
      }
    }
    INDArray xv = ShapeOps.contiguous(x.data());

    INDArray mean;
    INDArray var;
    if (useBatch) {
      mean = channelSum(xv).divi(n);
      INDArray centered = Broadcast.apply(op, "subtract", xv, mean.reshape(bshape));
      var = channelSumOfSquares(centered).divi(n);   // two-pass variance, as PyTorch
      NativeMemory.release(centered);
      if (runningMean != null && training) {
        updateRunningStats(runningMean, runningVar, mean, var, momentum, n);
      }
    } else {
      mean = runningMean.data().dup();
      var = runningVar.data().dup();
    }
    INDArray invstd = Transforms.pow(var.add(eps), -0.5, false);   // (C)
    INDArray wv = weight == null ? null : weight.data();
    INDArray bv = bias == null ? null : bias.data();
    // y = x * a + b per channel, a = weight * invstd, b = bias - mean * a: one fused pass of libnd4j's batchnorm
    INDArray a = wv == null ? invstd.dup() : wv.mul(invstd);
    INDArray shift = mean.mul(a).negi();
    if (bv != null) {
      shift.addi(bv);
    }
    INDArray y = affine(xv, a, shift);
    Tensor[] inputs = {x, weight, bias};
    long count = n;
    Tensor out = Autograd.recordJoint(op, y, inputs, (g, needs) -> {
      INDArray[] r = new INDArray[3];
      INDArray gc = ShapeOps.contiguous(g);
      INDArray sg = channelSum(gc);                           // sum(g)
      // sum(g * xhat) = invstd * (sum(g * x) - mean * sum(g))
      INDArray sgx = needs[1] || (needs[0] && useBatch)
          ? channelDot(gc, xv).subi(mean.mul(sg)).muli(invstd) : null;
      if (needs[1]) {
        r[1] = sgx.dup();                                    // dweight = sum(g * xhat)
      }
      if (needs[2]) {
        r[2] = sg.dup();                                     // dbias = sum(g)
      }
      if (needs[0]) {
        if (useBatch) {
          // dx = a * (g - mean(g) - xhat * mean(g * xhat)) = g * a + x * B + C per channel
          INDArray bCoef = a.mul(invstd).muli(sgx).divi(-count);
          INDArray cCoef = a.mul(sg).divi(-count).subi(bCoef.mul(mean));
          INDArray gx = affine(gc, a, null);
          INDArray xPart = affine(xv, bCoef, cCoef);
          gx.addi(xPart);
          NativeMemory.release(xPart);
          r[0] = gx;
        } else {
          r[0] = affine(gc, a, null);                        // dx = g * weight * invstd
        }
      }
      return r;
    });
    return relu ? ActivationOps.relu(out) : out;
  }

  /**
   * Float32 on the CPU: oneDNN's batch normalisation primitive ({@link OneDnnBatchNorm}), with the batch's
   * statistics or the running ones.
   */
  private static Tensor direct(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
      boolean useBatch, boolean training, double momentum, double eps, boolean relu) {
    INDArray xv = x.data();
    INDArray wv = weight == null ? null : weight.data();
    INDArray bv = bias == null ? null : bias.data();
    boolean record = Autograd.willRecord(x, weight, bias);
    // fused only where it pays and cannot differ: training with batch statistics (a NaN input shows in them), a
    // graph to keep the mask for, eps > 0 (eps = 0 and a constant channel give 0/0 with finite statistics)
    boolean fuse = relu && useBatch && record && eps > 0 && xv.rank() == 4;
    // the running statistics are read now: an update before backward (another forward) must not change them
    INDArray[] out = OneDnnBatchNorm.forward(xv, wv, bv, useBatch ? null : runningMean.data().dup(),
        useBatch ? null : runningVar.data().dup(), eps, record, fuse);
    if (fuse && !(finite(out[1]) && finite(out[2]) && finite(wv) && finite(bv))) {
      for (INDArray a : out) {   // NaN outputs, which the fused ReLU would turn into 0: the two ops apart
        NativeMemory.release(a);
      }
      fuse = false;
      out = OneDnnBatchNorm.forward(xv, wv, bv, null, null, eps, record, false);
    }
    INDArray mean = out[1];
    INDArray var = out[2];
    INDArray mask = out[3];
    boolean fused = fuse;
    if (useBatch && runningMean != null && training) {
      updateRunningStats(runningMean, runningVar, mean, var, momentum, x.numel() / x.shape()[1]);
    }
    Tensor y = Autograd.recordJoint(fuse ? "batch_norm_relu" : "batch_norm", out[0], new Tensor[] {x, weight, bias},
        (g, needs) -> {
          INDArray[] r = OneDnnBatchNorm.backward(xv, g, mean, var, wv, bv, !useBatch, eps, fused, mask);
          for (int i = 0; i < 3; i++) {
            if (!needs[i] && r[i] != null) {
              NativeMemory.release(r[i]);
              r[i] = null;
            }
          }
          return r;
        });
    return relu && !fuse ? ActivationOps.relu(y) : y;
  }

  /** Whether every element is finite (null: true); a few hundred per-channel values, read in Java when possible. */
  private static boolean finite(INDArray a) {
    if (a == null) {
      return true;
    }
    if (!floatVectors(a)) {
      return Double.isFinite(a.sumNumber().doubleValue());   // (an overflowing sum only costs the fusion)
    }
    for (float v : read(a)) {
      if (!Float.isFinite(v)) {
        return false;
      }
    }
    return true;
  }

  /**
   * PyTorch's rule, in place on the module's buffers (never part of a graph): {@code running = (1 - momentum) *
   * running + momentum * batch}, with the unbiased variance ({@code n} values per channel) for {@code runningVar}.
   */
  private static void updateRunningStats(Tensor runningMean, Tensor runningVar, INDArray mean, INDArray var,
      double momentum, long n) {
    double unbiased = n / (double) (n - 1);
    INDArray rm = runningMean.data();
    INDArray rv = runningVar.data();
    if (floatVectors(rm, rv, mean, var)) {
      // a few hundred values per layer: four bulk copies and a loop in Java, against four ND4J ops and two
      // temporaries (~10 against ~150 us a layer; a ResNet-18 step has 20 batch norms)
      float[] m = read(rm);
      float[] v = read(rv);
      float[] bm = read(mean);
      float[] bv = read(var);
      for (int i = 0; i < m.length; i++) {
        m[i] = (float) ((1 - momentum) * m[i] + momentum * bm[i]);
        v[i] = (float) ((1 - momentum) * v[i] + momentum * unbiased * bv[i]);
      }
      write(rm, m);
      write(rv, v);
      return;
    }
    rm.muli(1 - momentum).addi(mean.mul(momentum));
    rv.muli(1 - momentum).addi(var.mul(momentum * unbiased));
  }

  /** Whether all are float32 vectors of one length, each its whole float buffer (read and written whole). */
  private static boolean floatVectors(INDArray... as) {
    for (INDArray a : as) {
      if (a.dataType() != org.nd4j.linalg.api.buffer.DataType.FLOAT || a.rank() != 1 || a.length() != as[0].length()
          || (a.length() > 1 && a.stride(0) != 1) || a.offset() != 0 || a.data().length() != a.length()
          || !(a.data().pointer() instanceof FloatPointer)) {
        return false;
      }
    }
    return as[0].length() <= Integer.MAX_VALUE;
  }

  private static float[] read(INDArray a) {
    float[] r = new float[(int) a.length()];
    new FloatPointer(a.data().pointer()).get(r);
    return r;
  }

  private static void write(INDArray a, float[] values) {
    new FloatPointer(a.data().pointer()).put(values);
  }

  /** x * scale + shift per channel (dimension 1), into a fresh array: libnd4j's fused batchnorm kernel. */
  static INDArray affine(INDArray x, INDArray scale, INDArray shift) {
    INDArray out = NativeMemory.uninitialized(x.dataType(), x.shape());
    long c = x.size(1);
    INDArray zero = org.nd4j.linalg.factory.Nd4j.zeros(x.dataType(), c);
    INDArray one = org.nd4j.linalg.factory.Nd4j.ones(x.dataType(), c);
    INDArray[] in = shift == null ? new INDArray[] {x, zero, one, scale} : new INDArray[] {x, zero, one, scale, shift};
    org.nd4j.linalg.factory.Nd4j.exec(org.nd4j.linalg.api.ops.DynamicCustomOp.builder("batchnorm").addInputs(in)
        .addOutputs(out).addIntegerArguments(1, shift == null ? 0 : 1, 1).addFloatingPointArguments(0.0).build());
    return out;
  }

  /** Per-channel sums of squares of {@code (N, C, ...)}: squared 2-norms of the contiguous rows, then summed. */
  static INDArray channelSumOfSquares(INDArray x) {
    long[] s = x.shape();
    if (s.length == 2) {
      INDArray nrm = x.norm2(0);
      return nrm.muli(nrm);
    }
    INDArray nrm = x.reshape('c', s[0], s[1], x.length() / (s[0] * s[1])).norm2(2);   // (N, C)
    return nrm.muli(nrm).sum(0);
  }

  /** Per-channel sums of {@code a * b} without materialising the product (dot products of contiguous rows). */
  static INDArray channelDot(INDArray a, INDArray b) {
    long[] s = a.shape();
    if (s.length == 2) {
      return org.nd4j.linalg.factory.Nd4j.getExecutioner().exec(new org.nd4j.linalg.api.ops.impl.reduce3.Dot(a, b,
          0));
    }
    long l = a.length() / (s[0] * s[1]);
    return org.nd4j.linalg.factory.Nd4j.getExecutioner().exec(new org.nd4j.linalg.api.ops.impl.reduce3.Dot(
        a.reshape('c', s[0], s[1], l), b.reshape('c', s[0], s[1], l), 2)).sum(0);
  }

  /**
   * Per-channel sums of {@code (N, C, ...)} as {@code (C)}: summing the contiguous trailing axis first, then the
   * batch axis, which libnd4j does many times faster than one reduction over dimensions (0, 2, 3).
   */
  static INDArray channelSum(INDArray x) {
    long[] s = x.shape();
    if (s.length == 2) {
      return x.sum(0);
    }
    long l = 1;
    for (int i = 2; i < s.length; i++) {
      l *= s[i];
    }
    INDArray c = ShapeOps.contiguous(x);
    return c.reshape('c', s[0], s[1], l).sum(2).sum(0);
  }

  static long[] channelShape(int rank, long c) {
    long[] s = new long[rank];
    java.util.Arrays.fill(s, 1);
    s[1] = c;
    return s;
  }
}
