package io.graft.core.ops;

/** How a loss reduces its per-element values: PyTorch's {@code reduction='none' | 'mean' | 'sum'}. */
public enum Reduction {
  NONE, MEAN, SUM
}
