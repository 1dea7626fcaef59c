package io.graft.optim.scheduler;

import io.graft.optim.Optimizer;

/**
 * Multiplies each group's LR by {@code gamma} every step.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ExponentialLR.html">ExponentialLR</a>
 */
public final class ExponentialLR extends LRScheduler {
  private final double gamma;

  /** Decay by {@code gamma} per step (PyTorch's {@code gamma}). Performs the initial step. */
  public ExponentialLR(Optimizer optimizer, double gamma) {
    super(optimizer);
    this.gamma = gamma;
    initialStep();
  }

  @Override
  protected double[] computeLr() {
    double[] lr = currentLrs();
    return lastEpoch == 0 ? lr : scaled(lr, gamma);
  }

  @Override
  protected double[] closedFormLr() {
    return scaled(baseLrs, Math.pow(gamma, lastEpoch));
  }
}
