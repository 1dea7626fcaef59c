package io.graft.layers.norm;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.ShapeException;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.ops.NormOps;
import io.graft.layers.Module;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Batch normalisation over the channel dimension (PyTorch's {@code _BatchNorm}); see {@link BatchNorm2d} and
 * {@link BatchNorm1d}. Registers {@code weight}, {@code bias} (when affine) and the persistent buffers
 * {@code running_mean}, {@code running_var}, {@code num_batches_tracked} (int64, shape {@code []}) when tracking
 * running statistics.
 *
 * <p>In training mode, batch statistics normalise and the running statistics are updated with {@code momentum}
 * (the unbiased batch variance for {@code running_var}; {@code momentum = null} means a cumulative average); in
 * eval mode the running statistics normalise. When the affine parameters are frozen, {@link BatchNormPolicy}
 * decides (default {@link BatchNormPolicy#FREEZE_STATS}: behave as in eval mode).
 */
public abstract class BatchNorm extends Module {
  /** eps 1e-5, momentum 0.1, affine, tracking running statistics (PyTorch's defaults). */
  public record Options(double eps, Double momentum, boolean affine, boolean trackRunningStats) {
    /** PyTorch's defaults: eps 1e-5, momentum 0.1, affine, tracking running statistics. */
    public static Options defaults() {
      return new Options(1e-5, 0.1, true, true);
    }

    /** The value added to the variance for numerical stability. */
    public Options withEps(double e) {
      return new Options(e, momentum, affine, trackRunningStats);
    }

    /** {@code null} for a cumulative moving average. */
    public Options withMomentum(Double m) {
      return new Options(eps, m, affine, trackRunningStats);
    }

    /** Whether the layer has a learnable {@code weight} and {@code bias}. */
    public Options withAffine(boolean a) {
      return new Options(eps, momentum, a, trackRunningStats);
    }

    /** Whether the layer keeps {@code running_mean}, {@code running_var} and {@code num_batches_tracked} (without them it always normalises with batch statistics). */
    public Options withTrackRunningStats(boolean t) {
      return new Options(eps, momentum, affine, t);
    }
  }

  private final int numFeatures;
  private final Options o;
  private final Parameter weight;
  private final Parameter bias;
  private final Tensor runningMean;
  private final Tensor runningVar;
  private final Tensor numBatchesTracked;
  private BatchNormPolicy policy = BatchNormPolicy.FREEZE_STATS;

  /** A batch norm over {@code numFeatures} channels; weight 1, bias 0, running mean 0 and variance 1, as PyTorch. */
  protected BatchNorm(int numFeatures, Options options) {
    if (numFeatures < 1) {
      throw new GraftException(getClass().getSimpleName() + ": num_features must be positive, got " + numFeatures);
    }
    this.numFeatures = numFeatures;
    this.o = options;
    if (options.affine()) {
      weight = registerParameter("weight", new Parameter(Tensor.ones(numFeatures).data()));
      bias = registerParameter("bias", new Parameter(Tensor.zeros(numFeatures).data()));
    } else {
      weight = null;
      bias = null;
    }
    if (options.trackRunningStats()) {
      runningMean = registerBuffer("running_mean", Tensor.zeros(numFeatures));
      runningVar = registerBuffer("running_var", Tensor.ones(numFeatures));
      numBatchesTracked = registerBuffer("num_batches_tracked", Tensor.scalar(DataType.INT64, 0));
    } else {
      runningMean = null;
      runningVar = null;
      numBatchesTracked = null;
    }
  }

  /** Input ranks this layer accepts. */
  protected abstract int[] ranks();

  /** Sets what happens to running statistics while the affine parameters are frozen; returns {@code this}. */
  public BatchNorm policy(BatchNormPolicy p) {
    this.policy = p;
    return this;
  }

  /** What happens to the running statistics while the affine parameters are frozen. */
  public BatchNormPolicy policy() {
    return policy;
  }

  /** Applies {@code p} to every BatchNorm below {@code m}. */
  public static void setPolicy(Module m, BatchNormPolicy p) {
    m.apply(x -> {
      if (x instanceof BatchNorm bn) {
        bn.policy(p);
      }
    });
  }

  /** Affine and both affine parameters frozen. */
  public boolean isFrozen() {
    return weight != null && !weight.requiresGrad() && !bias.requiresGrad();
  }

  @Override
  public Tensor forward(Tensor x) {
    return run(x, false);
  }

  /**
   * {@code relu(forward(x))} in one pass where the backend can ({@link NormOps#batchNormRelu}), for an
   * architecture whose batch norm feeds a ReLU (ResNet's blocks, which make the two calls instead when either module
   * has forward hooks, so that each hook still sees its own module's call).
   */
  public Tensor forwardRelu(Tensor x) {
    return run(x, true);
  }

  private Tensor run(Tensor x, boolean relu) {
    requireRank(x, ranks());
    if (x.shape()[1] != numFeatures) {
      throw ShapeException.of(typeName(), "expected " + numFeatures + " channels in dimension 1", x.shape());
    }
    boolean frozenStats = isFrozen() && policy == BatchNormPolicy.FREEZE_STATS;
    boolean batchStats = (isTraining() && !frozenStats) || runningMean == null;
    boolean update = isTraining() && batchStats && runningMean != null;
    double factor = 0;
    if (update) {
      try (var g = GradMode.disabled()) {
        numBatchesTracked.data().addi(1);
      }
      factor = o.momentum() == null ? 1.0 / numBatchesTracked.item() : o.momentum();
    }
    Tensor rm = update || !batchStats ? runningMean : null;
    Tensor rv = update || !batchStats ? runningVar : null;
    return relu ? NormOps.batchNormRelu(x, rm, rv, weight, bias, batchStats, factor, o.eps())
        : NormOps.batchNorm(x, rm, rv, weight, bias, batchStats, factor, o.eps());
  }

  /** The scale, or null when not affine. */
  public Parameter weight() {
    return weight;
  }

  /** The shift, or null when not affine. */
  public Parameter bias() {
    return bias;
  }

  /** The {@code running_mean} buffer, or null when running statistics are not tracked. */
  public Tensor runningMean() {
    return runningMean;
  }

  /** The {@code running_var} buffer, or null when running statistics are not tracked. */
  public Tensor runningVar() {
    return runningVar;
  }

  /** The {@code num_batches_tracked} buffer (int64 scalar), or null when running statistics are not tracked. */
  public Tensor numBatchesTracked() {
    return numBatchesTracked;
  }

  /** The number of channels ({@code num_features}). */
  public int numFeatures() {
    return numFeatures;
  }

  @Override
  protected String extraRepr() {
    return numFeatures + ", eps=" + o.eps() + ", momentum=" + o.momentum() + ", affine=" + o.affine()
        + ", track_running_stats=" + o.trackRunningStats();
  }

  /** The options this layer was built with ({@code eps}, {@code momentum}, {@code affine}, ...), as PyTorch's attributes. */
  public Options options() {
    return o;
  }
}
