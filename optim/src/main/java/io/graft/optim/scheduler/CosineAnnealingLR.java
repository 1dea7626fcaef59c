package io.graft.optim.scheduler;

import io.graft.core.GraftException;
import io.graft.optim.Optimizer;

/**
 * Cosine annealing from each group's base LR to {@code etaMin} over {@code tMax} steps (then back up, as PyTorch's
 * recursive form does past {@code tMax}).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.CosineAnnealingLR.html">
 *     CosineAnnealingLR</a>
 */
public final class CosineAnnealingLR extends LRScheduler {
  private final int tMax;
  private final double etaMin;

  /** Cosine annealing to 0 over {@code tMax} steps (PyTorch's {@code T_max}, at least 1). */
  public CosineAnnealingLR(Optimizer optimizer, int tMax) {
    this(optimizer, tMax, 0);
  }

  /**
   * Cosine annealing to {@code etaMin} (PyTorch's {@code eta_min}) over {@code tMax} steps (PyTorch's {@code T_max});
   * throws {@link GraftException} unless {@code tMax} is positive. Performs the initial step.
   */
  public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin) {
    super(optimizer);
    if (tMax < 1) {
      throw new GraftException("CosineAnnealingLR: T_max must be positive, got " + tMax);
    }
    this.tMax = tMax;
    this.etaMin = etaMin;
    initialStep();
  }

  @Override
  protected double[] computeLr() {
    double[] lr = currentLrs();
    if (lastEpoch == 0) {
      return lr;
    }
    for (int i = 0; i < lr.length; i++) {
      if (stepCount == 1 && lastEpoch > 0) {
        lr[i] = etaMin + (baseLrs[i] - etaMin) * (1 + Math.cos(lastEpoch * Math.PI / tMax)) / 2;
      } else if (Math.floorMod(lastEpoch - 1 - tMax, 2 * tMax) == 0) {
        lr[i] = lr[i] + (baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / tMax)) / 2;
      } else {
        lr[i] = (1 + Math.cos(Math.PI * lastEpoch / tMax)) / (1 + Math.cos(Math.PI * (lastEpoch - 1) / tMax))
            * (lr[i] - etaMin) + etaMin;
      }
    }
    return lr;
  }

  @Override
  protected double[] closedFormLr() {
    double[] lr = new double[baseLrs.length];
    for (int i = 0; i < lr.length; i++) {
      lr[i] = etaMin + (baseLrs[i] - etaMin) * (1 + Math.cos(Math.PI * lastEpoch / tMax)) / 2;
    }
    return lr;
  }
}
