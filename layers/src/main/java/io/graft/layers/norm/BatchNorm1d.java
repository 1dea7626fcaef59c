package io.graft.layers.norm;

import io.graft.layers.HoldsNoIntermediates;

/**
 * Batch normalisation of {@code (N, C)} or {@code (N, C, L)} input per channel.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm1d.html">torch.nn.BatchNorm1d</a>
 */
@HoldsNoIntermediates
public final class BatchNorm1d extends BatchNorm {
  /**
   * Batch norm over {@code numFeatures} channels (PyTorch's {@code num_features}) with PyTorch's defaults; throws
   * {@link io.graft.core.GraftException} unless {@code numFeatures} is positive.
   */
  public BatchNorm1d(int numFeatures) {
    this(numFeatures, Options.defaults());
  }

  /**
   * Batch norm over {@code numFeatures} channels with the given eps, momentum, affine and running-statistics options;
   * throws {@link io.graft.core.GraftException} unless {@code numFeatures} is positive.
   */
  public BatchNorm1d(int numFeatures, Options options) {
    super(numFeatures, options);
  }

  @Override
  protected int[] ranks() {
    return new int[] {2, 3};
  }
}
