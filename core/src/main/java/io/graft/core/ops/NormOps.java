package io.graft.core.ops;

import io.graft.core.GraftException;
import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Autograd;
import io.graft.core.backend.Backends;
import io.graft.core.backend.BatchNormPass;
import io.graft.core.backend.FloatVectors;
import io.graft.core.backend.Kernels;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Batch normalisation over dimension 1 of {@code (N, C)}, {@code (N, C, L)} or {@code (N, C, H, W)} input, on the
 * kernels {@link Backends} picks, with or without a ReLU fused into the same pass.
 */
public final class NormOps {
  private NormOps() {}

  /**
   * F.batch_norm's arguments after the input, grouped and named: the running statistics {@code (C)} (both or
   * neither), the affine parameters {@code (C)} (each may be null: affine=False), whether the batch's statistics
   * normalise ({@code training}), the running statistics' update factor and {@code eps}.
   */
  public record Args(Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias, boolean training,
      double momentum, double eps) {}

  /**
   * y = (x - mean) / sqrt(var + eps) * weight + bias.
   *
   * <p>With {@code training} (or without running statistics) mean and (biased) variance come from the batch,
   * and the running statistics, when given, are updated in place:
   * {@code running = (1 - momentum) * running + momentum * batch}, using the unbiased variance for
   * {@code runningVar} (PyTorch's rule). Otherwise the running statistics normalise.
   *
   * <p>Backward, with xhat the normalised input and a = weight / sqrt(var + eps): dweight = sum(g * xhat),
   * dbias = sum(g), dx = a * (g - mean(g) - xhat * mean(g * xhat)) with batch statistics, a * g with given ones.
   *
   * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.functional.batch_norm.html">F.batch_norm</a>
   */
  public static Tensor batchNorm(Tensor x, Args args) {
    return normalize(x, args, false);
  }

  /** {@link #batchNorm(Tensor, Args)} with PyTorch's positional arguments, in F.batch_norm's order. */
  public static Tensor batchNorm(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
      boolean training, double momentum, double eps) {
    return normalize(x, new Args(runningMean, runningVar, weight, bias, training, momentum, eps), false);
  }

  /**
   * {@code relu(batchNorm(...))}, the pair in every ResNet block. Training on 4-D input, a backend with a fused
   * kernel (oneDNN) computes both in one pass (keeping a bit mask for the backward), which saves the ReLU's pass
   * over the activation each way and the batch norm's output array; elsewhere, the two ops. NaN propagates as in
   * PyTorch: oneDNN's fused ReLU turns NaN into 0, so when a batch statistic or an affine parameter is not finite
   * (the only way to a NaN output) the two ops run apart.
   */
  public static Tensor batchNormRelu(Tensor x, Args args) {
    return normalize(x, args, true);
  }

  /** {@link #batchNormRelu(Tensor, Args)} with PyTorch's positional arguments, in F.batch_norm's order. */
  public static Tensor batchNormRelu(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
      boolean training, double momentum, double eps) {
    return normalize(x, new Args(runningMean, runningVar, weight, bias, training, momentum, eps), true);
  }

  private static Tensor normalize(Tensor x, Args p, boolean relu) {
    String op = "batch_norm";
    Shapes.requireRank(op, "input", x, 2, 3, 4);
    Shapes.requireFloat(op, "input", x);
    long[] xs = x.shape();
    long c = xs[1];
    for (Tensor t : new Tensor[] {p.runningMean(), p.runningVar(), p.weight(), p.bias()}) {
      if (t != null && (t.rank() != 1 || t.shape()[0] != c)) {
        throw ShapeException.of(op, "per-channel tensors must have shape [" + c + "]", t.shape(), xs);
      }
      if (t != null) {
        Shapes.requireSameDtype(op, x, t);
      }
    }
    if ((p.runningMean() == null) != (p.runningVar() == null)) {
      throw new GraftException(op + ": running_mean and running_var must both be given or both be null");
    }
    long n = x.numel() / Math.max(c, 1);
    boolean useBatch = p.training() || p.runningMean() == null;
    if (useBatch && n <= 1) {
      throw ShapeException.of(op, "expected more than 1 value per channel when training", xs);
    }
    INDArray xv = x.data();
    INDArray wv = p.weight() == null ? null : p.weight().data();
    INDArray bv = p.bias() == null ? null : p.bias().data();
    double eps = p.eps();
    boolean record = Autograd.willRecord(x, p.weight(), p.bias());
    // fused only where it pays and cannot differ: training with batch statistics (a NaN input shows in them), a
    // graph to keep the mask for, eps > 0 (eps = 0 and a constant channel give 0/0 with finite statistics)
    Kernels kernels = relu && useBatch && record && eps > 0 && xv.rank() == 4
        ? Backends.batchNormRelu(xv, wv, bv, eps) : null;
    boolean fuse = kernels != null;
    if (!fuse) {
      kernels = Backends.batchNorm(xv, wv, bv, !useBatch, eps, record, false);
    }
    // the running statistics are read now: an update before backward (another forward) must not change them
    INDArray mean = useBatch ? null : p.runningMean().data().dup();
    INDArray var = useBatch ? null : p.runningVar().data().dup();
    BatchNormPass pass = kernels.batchNorm(xv, wv, bv, mean, var, eps, record, fuse);
    if (fuse && !(finite(pass.mean()) && finite(pass.var()) && finite(wv) && finite(bv))) {
      pass.release();   // NaN outputs, which the fused ReLU would turn into 0: the two ops apart
      fuse = false;
      kernels = Backends.batchNorm(xv, wv, bv, false, eps, record, false);
      pass = kernels.batchNorm(xv, wv, bv, null, null, eps, record, false);
    }
    if (useBatch && p.runningMean() != null && p.training()) {
      updateRunningStats(p.runningMean(), p.runningVar(), pass.mean(), pass.var(), p.momentum(), n);
    }
    BatchNormPass saved = pass;
    Tensor y = Autograd.recordJoint(fuse ? "batch_norm_relu" : op, pass.output(), new Tensor[] {x, p.weight(),
        p.bias()}, (g, needs) -> saved.backward(g, needs[0], needs[1], needs[2]));
    return relu && !fuse ? ActivationOps.relu(y) : y;
  }

  /** Whether every element is finite (null: true); a few hundred per-channel values, read in Java when possible. */
  private static boolean finite(INDArray a) {
    if (a == null) {
      return true;
    }
    if (!FloatVectors.applies(a)) {
      return Double.isFinite(a.sumNumber().doubleValue());   // (an overflowing sum only costs the fusion)
    }
    for (float v : FloatVectors.read(a)) {
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
    if (FloatVectors.applies(rm, rv, mean, var)) {
      // a few hundred values per layer: four bulk copies and a loop in Java rather than four ND4J ops and two
      // temporaries
      float[] m = FloatVectors.read(rm);
      float[] v = FloatVectors.read(rv);
      float[] bm = FloatVectors.read(mean);
      float[] bv = FloatVectors.read(var);
      for (int i = 0; i < m.length; i++) {
        m[i] = (float) ((1 - momentum) * m[i] + momentum * bm[i]);
        v[i] = (float) ((1 - momentum) * v[i] + momentum * unbiased * bv[i]);
      }
      FloatVectors.write(rm, m);
      FloatVectors.write(rv, v);
      return;
    }
    rm.muli(1 - momentum).addi(mean.mul(momentum));
    rv.muli(1 - momentum).addi(var.mul(momentum * unbiased));
  }
}
