package io.graft.layers.loss;

import io.graft.core.Tensor;
import io.graft.core.ops.LossOps;
import io.graft.core.ops.Reduction;

/**
 * Mean squared error, as torch.nn.MSELoss (input and target of the same shape).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.MSELoss.html">torch.nn.MSELoss</a>
 */
public final class MSELoss implements Loss {
  private final Reduction reduction;

  /** Mean-reduced MSE, PyTorch's default. */
  public MSELoss() {
    this(Reduction.MEAN);
  }

  /** MSE with the given reduction (PyTorch's {@code reduction}). */
  public MSELoss(Reduction reduction) {
    this.reduction = reduction;
  }

  @Override
  public Tensor forward(Tensor input, Tensor target) {
    return LossOps.mseLoss(input, target, reduction);
  }

  @Override
  public String toString() {
    return "MSELoss(reduction=" + reduction.name().toLowerCase() + ")";
  }
}
