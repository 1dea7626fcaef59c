package io.graft.optim.scheduler;

import io.graft.optim.Optimizer;

/**
 * Multiplies each group's LR by {@code gamma} every step.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ExponentialLR.html">ExponentialLR</a>
 */
public final class ExponentialLR extends LRScheduler {
  private final double gamma;

  public ExponentialLR(Optimizer optimizer, double gamma) {
    super(optimizer);
    this.gamma = gamma;
    initialStep();
  }

  @Override
  protected double[] computeLr() {
    double[] lr = currentLrs();
    if (lastEpoch != 0) {
      for (int i = 0; i < lr.length; i++) {
        lr[i] *= gamma;
      }
    }
    return lr;
  }

  @Override
  protected double[] closedFormLr() {
    double[] lr = baseLrs.clone();
    for (int i = 0; i < lr.length; i++) {
      lr[i] *= Math.pow(gamma, lastEpoch);
    }
    return lr;
  }
}
