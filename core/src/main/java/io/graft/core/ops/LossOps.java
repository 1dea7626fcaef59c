package io.graft.core.ops;

import static io.graft.core.autograd.Autograd.record;

import io.graft.core.GraftException;
import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Broadcast;
import io.graft.core.autograd.Input;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Losses with PyTorch's semantics. {@code nllLoss} and {@code binaryCrossEntropyWithLogits} are primitives;
 * {@code crossEntropy} (log-softmax + NLL + label smoothing) and {@code mseLoss} are composed.
 */
public final class LossOps {
  /** PyTorch's default {@code ignore_index}. */
  public static final long DEFAULT_IGNORE_INDEX = -100;

  private LossOps() {}

  /** Options of {@link #crossEntropy}: class weights (or null), ignore_index, reduction, label smoothing. */
  public record CrossEntropyOptions(Tensor weight, long ignoreIndex, Reduction reduction, double labelSmoothing) {
    /** PyTorch's defaults: no class weights, {@code ignore_index=-100}, mean reduction, no label smoothing. */
    public static CrossEntropyOptions defaults() {
      return new CrossEntropyOptions(null, DEFAULT_IGNORE_INDEX, Reduction.MEAN, 0.0);
    }

    /**
     * These options with per-class weights {@code w} of shape {@code (C)} (PyTorch's {@code weight}), or none if null.
     */
    public CrossEntropyOptions withWeight(Tensor w) {
      return new CrossEntropyOptions(w, ignoreIndex, reduction, labelSmoothing);
    }

    /** These options with targets equal to {@code i} ignored (PyTorch's {@code ignore_index}). */
    public CrossEntropyOptions withIgnoreIndex(long i) {
      return new CrossEntropyOptions(weight, i, reduction, labelSmoothing);
    }

    /** These options with reduction {@code r} (PyTorch's {@code reduction}). */
    public CrossEntropyOptions withReduction(Reduction r) {
      return new CrossEntropyOptions(weight, ignoreIndex, r, labelSmoothing);
    }

    /** These options with label smoothing {@code s} in [0, 1] (PyTorch's {@code label_smoothing}). */
    public CrossEntropyOptions withLabelSmoothing(double s) {
      return new CrossEntropyOptions(weight, ignoreIndex, reduction, s);
    }
  }

  /** Cross-entropy of logits {@code (N, C)} or {@code (N, C, d1, ...)} against class indices, mean-reduced. */
  public static Tensor crossEntropy(Tensor logits, Tensor target) {
    return crossEntropy(logits, target, CrossEntropyOptions.defaults());
  }

  /**
   * Cross-entropy with class-index targets: {@code nll_loss(log_softmax(logits, 1), target)} blended with the
   * uniform distribution when {@code labelSmoothing} &gt; 0, exactly as torch.nn.functional.cross_entropy.
   *
   * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html">CrossEntropyLoss</a>
   */
  public static Tensor crossEntropy(Tensor logits, Tensor target, CrossEntropyOptions o) {
    String op = "cross_entropy";
    double eps = o.labelSmoothing();
    if (!(eps >= 0 && eps <= 1)) {
      throw new GraftException(op + ": label_smoothing must be in [0, 1], got " + eps);
    }
    Shapes.requireFloat(op, "input", logits);
    if (logits.rank() < 2) {
      throw ShapeException.of(op, "input must be (N, C) or (N, C, d1, ...)", logits.shape());
    }
    long c = logits.shape()[1];
    long[] ts = target.shape();
    long[] expected = new long[logits.rank() - 1];
    expected[0] = logits.shape()[0];
    System.arraycopy(logits.shape(), 2, expected, 1, expected.length - 1);
    if (!Arrays.equals(ts, expected)) {
      throw ShapeException.of(op, "target must have shape " + Arrays.toString(expected), logits.shape(), ts);
    }
    Tensor x2 = logits;
    Tensor t1 = target;
    if (logits.rank() > 2) {
      int[] perm = new int[logits.rank()];
      perm[0] = 0;
      for (int i = 1; i < perm.length - 1; i++) {
        perm[i] = i + 1;
      }
      perm[perm.length - 1] = 1;
      x2 = ShapeOps.reshape(ShapeOps.permute(logits, perm), -1, c);
      t1 = ShapeOps.reshape(target, -1);
    }
    Tensor logp = ActivationOps.logSoftmax(x2, 1);
    Tensor loss = nllLoss(logp, t1, o.weight(), o.ignoreIndex(), o.reduction());
    if (eps > 0) {
      long[] t = t1.toLongArray();
      double[] keep = new double[t.length];
      double denom = 0;
      for (int i = 0; i < t.length; i++) {
        keep[i] = t[i] == o.ignoreIndex() ? 0 : 1;
        if (keep[i] != 0) {
          denom += o.weight() == null ? 1 : o.weight().data().getDouble(t[i]);
        }
      }
      Tensor weighted = o.weight() == null ? logp : ElementwiseOps.mul(logp, ShapeOps.reshape(o.weight(), 1, c));
      Tensor mask = Tensor.fromArray(keep, t.length).to(logits.dtype());
      Tensor smooth = ElementwiseOps.mul(ElementwiseOps.neg(ReductionOps.sum(weighted, false, 1)), mask);
      smooth = switch (o.reduction()) {
        case NONE -> smooth;
        case SUM -> ReductionOps.sum(smooth);
        case MEAN -> ElementwiseOps.mul(ReductionOps.sum(smooth), 1.0 / denom);
      };
      loss = ElementwiseOps.add(ElementwiseOps.mul(loss, 1 - eps), ElementwiseOps.mul(smooth, eps / c));
    }
    if (o.reduction() == Reduction.NONE && logits.rank() > 2) {
      loss = ShapeOps.reshape(loss, ts);
    }
    return loss;
  }

  /**
   * Negative log-likelihood of log-probabilities {@code (N, C)} at class indices {@code (N)}:
   * {@code l_i = -w[t_i] * logp[i, t_i]}, zero where {@code t_i == ignoreIndex}; MEAN divides by the sum of
   * the weights of the counted targets.
   *
   * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.NLLLoss.html">torch.nn.NLLLoss</a>
   */
  public static Tensor nllLoss(Tensor logp, Tensor target, Tensor weight, long ignoreIndex, Reduction reduction) {
    String op = "nll_loss";
    Shapes.requireRank(op, "input", logp, 2);
    Shapes.requireFloat(op, "input", logp);
    if (target.dtype().isFPType() || target.rank() != 1 || target.shape()[0] != logp.shape()[0]) {
      throw ShapeException.of(op, "target must be integer class indices of shape [" + logp.shape()[0] + "], got "
          + target.dtype(), logp.shape(), target.shape());
    }
    long n = logp.shape()[0];
    long c = logp.shape()[1];
    if (weight != null && (weight.rank() != 1 || weight.shape()[0] != c)) {
      throw ShapeException.of(op, "weight must have shape [" + c + "]", weight.shape(), logp.shape());
    }
    long[] t = target.toLongArray();
    double[] w = new double[(int) n];
    double wsum = 0;
    for (int i = 0; i < n; i++) {
      if (t[i] == ignoreIndex) {
        continue;
      }
      if (t[i] < 0 || t[i] >= c) {
        throw new GraftException(op + ": target " + t[i] + " at position " + i + " is out of bounds for " + c
            + " classes (ignore_index = " + ignoreIndex + ")");
      }
      w[i] = weight == null ? 1 : weight.data().getDouble(t[i]);
      wsum += w[i];
    }
    INDArray lv = logp.data();
    double[] per = new double[(int) n];
    for (int i = 0; i < n; i++) {
      per[i] = w[i] == 0 ? 0 : -w[i] * lv.getDouble(i, t[i]);
    }
    DataType dt = logp.dtype();
    INDArray out;
    switch (reduction) {
      case NONE -> out = Nd4j.createFromArray(per).castTo(dt);
      case SUM -> out = Nd4j.scalar(dt, Arrays.stream(per).sum());
      default -> out = Nd4j.scalar(dt, Arrays.stream(per).sum() / wsum);
    }
    final double denom = wsum;
    return record(op, out, Input.of(logp, g -> {   // d/dlogp[i, t_i] = -w_i * g_i (/ sum w for MEAN)
      INDArray gx = Nd4j.create(dt, n, c);
      for (int i = 0; i < n; i++) {
        if (w[i] != 0) {
          double gi = switch (reduction) {
            case NONE -> g.getDouble(i);
            case SUM -> g.getDouble(0);
            case MEAN -> g.getDouble(0) / denom;
          };
          gx.putScalar(i, t[i], -w[i] * gi);
        }
      }
      return gx;
    }));
  }

  /** Mean squared error (composed): reduce((input - target)²). */
  public static Tensor mseLoss(Tensor input, Tensor target, Reduction reduction) {
    if (!Arrays.equals(input.shape(), target.shape())) {
      throw ShapeException.of("mse_loss", "input and target must have the same shape", input.shape(), target.shape());
    }
    Tensor d = ElementwiseOps.sub(input, target);
    return reduce(ElementwiseOps.mul(d, d), reduction);
  }

  /**
   * Binary cross-entropy on logits, numerically stable:
   * {@code l = w * [(1 - y) x + (1 + (pw - 1) y) * softplus(-x)]}.
   *
   * @param weight broadcastable to the input, or null
   * @param posWeight broadcastable to the input (per class, last dimension), or null
   * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.BCEWithLogitsLoss.html">BCEWithLogitsLoss</a>
   */
  public static Tensor binaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor weight, Tensor posWeight,
      Reduction reduction) {
    String op = "binary_cross_entropy_with_logits";
    Shapes.requireFloat(op, "input", input);
    Shapes.requireSameDtype(op, input, target);
    if (!Arrays.equals(input.shape(), target.shape())) {
      throw ShapeException.of(op, "target must have the input's shape", input.shape(), target.shape());
    }
    long[] xs = input.shape();
    INDArray x = input.data();
    INDArray y = target.data();
    INDArray wv = weight == null ? null : checkBroadcast(op, "weight", weight, input);
    INDArray pw = posWeight == null ? null : checkBroadcast(op, "pos_weight", posWeight, input);
    INDArray spNeg = softplus(x.neg());                                   // softplus(-x)
    INDArray lw = pw == null ? null                                       // 1 + (pw - 1) y
        : Broadcast.apply(op, "multiply", y, pw.sub(1)).addi(1);
    INDArray loss = y.rsub(1).muli(x).addi(lw == null ? spNeg : lw.mul(spNeg));
    if (wv != null) {
      loss = Broadcast.apply(op, "multiply", loss, wv);
    }
    Tensor l = record(op, loss,
        Input.of(input, g -> {   // d/dx = w [(1 - y) - lw * sigmoid(-x)] g
          INDArray s = Transforms.sigmoid(x.neg(), false);
          INDArray d = y.rsub(1).subi(lw == null ? s : lw.mul(s));
          return scale(op, d.muli(g), wv);
        }),
        Input.of(target, g -> {  // d/dy = w [-x + (pw - 1) softplus(-x)] g
          INDArray d = x.neg();
          if (pw != null) {
            d.addi(Broadcast.apply(op, "multiply", spNeg, pw.sub(1)));
          }
          return scale(op, d.muli(g), wv);
        }));
    return reduce(l, reduction);
  }

  private static INDArray scale(String op, INDArray d, INDArray w) {
    return w == null ? d : Broadcast.apply(op, "multiply", d, w);
  }

  /** log(1 + e^z), stable: max(z, 0) + log1p(e^-|z|). */
  private static INDArray softplus(INDArray z) {
    INDArray e = Transforms.exp(Transforms.abs(z, true).negi(), false);
    return Transforms.relu(z, true).addi(Transforms.log(e.addi(1), false));
  }

  private static INDArray checkBroadcast(String op, String name, Tensor t, Tensor input) {
    Shapes.requireSameDtype(op, input, t);
    long[] s = Broadcast.shape(op, input.shape(), t.shape());
    if (!Arrays.equals(s, input.shape())) {
      throw ShapeException.of(op, name + " must broadcast to the input's shape", t.shape(), input.shape());
    }
    return t.data();
  }

  static Tensor reduce(Tensor l, Reduction r) {
    return switch (r) {
      case NONE -> l;
      case SUM -> ReductionOps.sum(l);
      case MEAN -> ReductionOps.mean(l);
    };
  }
}
