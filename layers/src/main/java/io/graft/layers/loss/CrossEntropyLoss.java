package io.graft.layers.loss;

import io.graft.core.Tensor;
import io.graft.core.ops.LossOps;
import io.graft.core.ops.LossOps.CrossEntropyOptions;

/**
 * Cross-entropy of logits {@code (N, C)} (or {@code (N, C, d1, ...)}) against int64 class indices, with optional
 * class weights, {@code ignore_index}, reduction and label smoothing, as torch.nn.CrossEntropyLoss.
 *
 * <pre>{@code
 * Loss ce = new CrossEntropyLoss(CrossEntropyOptions.defaults().withLabelSmoothing(0.1));
 * }</pre>
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html">CrossEntropyLoss</a>
 */
public final class CrossEntropyLoss implements Loss {
  private final CrossEntropyOptions options;

  /** PyTorch's defaults: no class weights, {@code ignore_index=-100}, mean reduction, no label smoothing. */
  public CrossEntropyLoss() {
    this(CrossEntropyOptions.defaults());
  }

  /** A loss with the given class weights, {@code ignore_index}, reduction and label smoothing. */
  public CrossEntropyLoss(CrossEntropyOptions options) {
    this.options = options;
  }

  /** Shorthand for label smoothing with the other options at their defaults. */
  public static CrossEntropyLoss withLabelSmoothing(double s) {
    return new CrossEntropyLoss(CrossEntropyOptions.defaults().withLabelSmoothing(s));
  }

  /** The options this loss was built with. */
  public CrossEntropyOptions options() {
    return options;
  }

  @Override
  public Tensor forward(Tensor input, Tensor target) {
    return LossOps.crossEntropy(input, target, options);
  }

  @Override
  public String toString() {
    return "CrossEntropyLoss(label_smoothing=" + options.labelSmoothing() + ", ignore_index=" + options.ignoreIndex()
        + ", reduction=" + options.reduction().name().toLowerCase() + (options.weight() != null ? ", weighted" : "")
        + ")";
  }
}
