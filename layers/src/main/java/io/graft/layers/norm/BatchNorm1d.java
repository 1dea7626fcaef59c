package io.graft.layers.norm;

import io.graft.layers.HoldsNoIntermediates;

/**
 * Batch normalisation of {@code (N, C)} or {@code (N, C, L)} input per channel.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm1d.html">torch.nn.BatchNorm1d</a>
 */
@HoldsNoIntermediates
public final class BatchNorm1d extends BatchNorm {
  public BatchNorm1d(int numFeatures) {
    this(numFeatures, Options.defaults());
  }

  public BatchNorm1d(int numFeatures, Options options) {
    super(numFeatures, options);
  }

  @Override
  protected int[] ranks() {
    return new int[] {2, 3};
  }
}
