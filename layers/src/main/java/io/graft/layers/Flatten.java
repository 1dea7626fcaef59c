package io.graft.layers;

import io.graft.core.Tensor;

/** Flattens dimensions {@code startDim..endDim} (default 1..-1), as torch.nn.Flatten. */
@HoldsNoIntermediates
public final class Flatten extends Module {
  private final int startDim;
  private final int endDim;

  /** Flattens every dimension after the batch dimension, as {@code nn.Flatten()}. */
  public Flatten() {
    this(1, -1);
  }

  /**
   * Flattens dimensions {@code startDim..endDim} inclusive (negative counts from the end; PyTorch's {@code start_dim},
   * {@code end_dim}); an out-of-range dimension throws at forward.
   */
  public Flatten(int startDim, int endDim) {
    this.startDim = startDim;
    this.endDim = endDim;
  }

  @Override
  public Tensor forward(Tensor x) {
    return x.flatten(startDim, endDim);
  }

  @Override
  protected String extraRepr() {
    return "start_dim=" + startDim + ", end_dim=" + endDim;
  }

  /** PyTorch's {@code start_dim}. */
  public int startDim() {
    return startDim;
  }

  /** PyTorch's {@code end_dim}. */
  public int endDim() {
    return endDim;
  }
}
