package io.graft.core.backend;

/** What a 2-D pooling kernel computes over each window. */
public enum Pool2dMode {
  /** The maximum; padded positions count as -∞. */
  MAX,
  /** The mean, the padded zeros counted in the divisor (PyTorch's {@code count_include_pad=True}). */
  AVG_INCLUDE_PAD,
  /** The mean of the positions inside the input ({@code count_include_pad=False}). */
  AVG_EXCLUDE_PAD
}
