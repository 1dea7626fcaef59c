package io.graft.layers.pool;

import io.graft.core.Tensor;
import io.graft.core.ops.PoolOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * Adaptive average pooling to a fixed output size ({@code (1, 1)} in every torchvision classifier).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.AdaptiveAvgPool2d.html">AdaptiveAvgPool2d</a>
 */
@HoldsNoIntermediates
public final class AdaptiveAvgPool2d extends Module {
  private final int outH;
  private final int outW;

  /** Pools to a square {@code size x size} output (PyTorch's {@code output_size=size}). */
  public AdaptiveAvgPool2d(int size) {
    this(size, size);
  }

  /** Pools to an {@code outH x outW} output (PyTorch's {@code output_size=(outH, outW)}). */
  public AdaptiveAvgPool2d(int outH, int outW) {
    this.outH = outH;
    this.outW = outW;
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    return PoolOps.adaptiveAvgPool2d(x, outH, outW);
  }

  @Override
  protected String extraRepr() {
    return "output_size=(" + outH + ", " + outW + ")";
  }

  /** PyTorch's {@code output_size}: {height, width}. */
  public int[] outputSize() {
    return new int[] {outH, outW};
  }
}
