package io.graft.layers.loss;

import io.graft.core.Tensor;
import io.graft.core.ops.LossOps;
import io.graft.core.ops.Reduction;

/**
 * Sigmoid + binary cross-entropy in one numerically stable loss, with optional element weights and per-class
 * {@code pos_weight}, as torch.nn.BCEWithLogitsLoss. Targets are floats of the input's shape.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.BCEWithLogitsLoss.html">BCEWithLogitsLoss</a>
 */
public final class BCEWithLogitsLoss implements Loss {
  private final Tensor weight;
  private final Tensor posWeight;
  private final Reduction reduction;

  /** No weights, mean reduction: PyTorch's defaults. */
  public BCEWithLogitsLoss() {
    this(null, null, Reduction.MEAN);
  }

  /** @param weight broadcastable to the input, or null; @param posWeight per class (last dimension), or null */
  public BCEWithLogitsLoss(Tensor weight, Tensor posWeight, Reduction reduction) {
    this.weight = weight;
    this.posWeight = posWeight;
    this.reduction = reduction;
  }

  @Override
  public Tensor forward(Tensor input, Tensor target) {
    return LossOps.binaryCrossEntropyWithLogits(input, target, weight, posWeight, reduction);
  }

  @Override
  public String toString() {
    return "BCEWithLogitsLoss(reduction=" + reduction.name().toLowerCase() + ")";
  }
}
