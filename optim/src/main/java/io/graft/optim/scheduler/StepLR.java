package io.graft.optim.scheduler;

import io.graft.core.GraftException;
import io.graft.optim.Optimizer;

/**
 * Multiplies each group's LR by {@code gamma} every {@code stepSize} steps.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.StepLR.html">StepLR</a>
 */
public final class StepLR extends LRScheduler {
  private final int stepSize;
  private final double gamma;

  /**
   * Multiplies by {@code gamma} every {@code stepSize} steps (PyTorch's {@code step_size}, at least 1, and {@code
   * gamma}); throws {@link GraftException} for a non-positive {@code stepSize}. Performs the initial step.
   */
  public StepLR(Optimizer optimizer, int stepSize, double gamma) {
    super(optimizer);
    if (stepSize < 1) {
      throw new GraftException("StepLR: step_size must be positive, got " + stepSize);
    }
    this.stepSize = stepSize;
    this.gamma = gamma;
    initialStep();
  }

  @Override
  protected double[] computeLr() {
    double[] lr = currentLrs();
    return lastEpoch == 0 || lastEpoch % stepSize != 0 ? lr : scaled(lr, gamma);
  }

  @Override
  protected double[] closedFormLr() {
    return scaled(baseLrs, Math.pow(gamma, Math.floorDiv(lastEpoch, stepSize)));
  }
}
