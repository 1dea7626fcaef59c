package io.graft.optim.scheduler;

import io.graft.core.GraftException;
import io.graft.optim.Optimizer;
import java.util.Arrays;

/**
 * Multiplies each group's LR by {@code gamma} at every milestone (a milestone listed twice applies twice).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.MultiStepLR.html">MultiStepLR</a>
 */
public final class MultiStepLR extends LRScheduler {
  private final int[] milestones;
  private final double gamma;

  /**
   * Multiplies by {@code gamma} at each of {@code milestones} (epoch indices, any order; PyTorch's {@code milestones},
   * {@code gamma}); throws {@link GraftException} if there are none. Performs the initial step.
   */
  public MultiStepLR(Optimizer optimizer, int[] milestones, double gamma) {
    super(optimizer);
    this.milestones = milestones.clone();
    Arrays.sort(this.milestones);
    if (milestones.length == 0) {
      throw new GraftException("MultiStepLR: no milestones");
    }
    this.gamma = gamma;
    initialStep();
  }

  @Override
  protected double[] computeLr() {
    double[] lr = currentLrs();
    int count = 0;
    for (int m : milestones) {
      count += m == lastEpoch ? 1 : 0;
    }
    return count == 0 ? lr : scaled(lr, Math.pow(gamma, count));
  }

  @Override
  protected double[] closedFormLr() {
    int passed = 0;
    for (int m : milestones) {
      passed += m <= lastEpoch ? 1 : 0;
    }
    return scaled(baseLrs, Math.pow(gamma, passed));
  }
}
