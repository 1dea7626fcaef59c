package io.graft.core.ops;

/** How a loss reduces its per-element values: PyTorch's {@code reduction='none' | 'mean' | 'sum'}. */
public enum Reduction {
  /** No reduction: the loss has one value per element (PyTorch's {@code 'none'}). */
  NONE,
  /** The mean over elements (weighted mean where class weights apply; PyTorch's default {@code 'mean'}). */
  MEAN,
  /** The sum over elements (PyTorch's {@code 'sum'}). */
  SUM
}
