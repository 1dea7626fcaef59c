package io.graft.layers.norm;

import io.graft.layers.HoldsNoIntermediates;

/**
 * Batch normalisation of {@code (N, C, H, W)} input over N, H, W per channel.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html">torch.nn.BatchNorm2d</a>
 */
@HoldsNoIntermediates
public final class BatchNorm2d extends BatchNorm {
  public BatchNorm2d(int numFeatures) {
    this(numFeatures, Options.defaults());
  }

  public BatchNorm2d(int numFeatures, Options options) {
    super(numFeatures, options);
  }

  @Override
  protected int[] ranks() {
    return new int[] {4};
  }
}
