package io.graft.optim.scheduler;

import io.graft.core.GraftException;
import io.graft.optim.Optimizer;

/**
 * Scales each group's LR linearly from {@code startFactor} to {@code endFactor} of its base LR over
 * {@code totalIters} steps — the usual warm-up (PyTorch's defaults: 1/3, 1.0, 5).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.LinearLR.html">LinearLR</a>
 */
public final class LinearLR extends LRScheduler {
  private final double startFactor;
  private final double endFactor;
  private final int totalIters;

  /**
   * Scales from {@code startFactor} in (0, 1] to {@code endFactor} in [0, 1] of the base LR over {@code totalIters} (at
   * least 1) steps, PyTorch's {@code start_factor}, {@code end_factor}, {@code total_iters}; throws {@link
   * GraftException} for values out of range. Performs the initial step.
   */
  public LinearLR(Optimizer optimizer, double startFactor, double endFactor, int totalIters) {
    super(optimizer);
    if (!(startFactor > 0 && startFactor <= 1) || !(endFactor >= 0 && endFactor <= 1)) {
      throw new GraftException("LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1], got "
          + startFactor + ", " + endFactor);
    }
    if (totalIters < 1) {
      throw new GraftException("LinearLR: total_iters must be positive, got " + totalIters);
    }
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    initialStep();
  }

  @Override
  protected double[] computeLr() {
    double[] lr = currentLrs();
    if (lastEpoch == 0) {
      for (int i = 0; i < lr.length; i++) {
        lr[i] *= startFactor;
      }
      return lr;
    }
    if (lastEpoch > totalIters) {
      return lr;
    }
    double f = 1. + (endFactor - startFactor)
        / (totalIters * startFactor + (lastEpoch - 1) * (endFactor - startFactor));
    for (int i = 0; i < lr.length; i++) {
      lr[i] *= f;
    }
    return lr;
  }

  @Override
  protected double[] closedFormLr() {
    double[] lr = new double[baseLrs.length];
    for (int i = 0; i < lr.length; i++) {
      lr[i] = baseLrs[i] * (startFactor + (endFactor - startFactor) * Math.min(totalIters, lastEpoch) / totalIters);
    }
    return lr;
  }
}
