package io.graft.layers.pool;

import io.graft.core.Tensor;
import io.graft.core.ops.PoolOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * 2-D max pooling (floor output size, PyTorch's {@code ceil_mode=False}); {@code stride} defaults to the kernel
 * size as in PyTorch. Dilation other than 1 is refused by {@link PoolOps#maxPool2d}.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html">torch.nn.MaxPool2d</a>
 */
@HoldsNoIntermediates
public final class MaxPool2d extends Module {
  private final int kernel;
  private final int stride;
  private final int padding;
  private final int dilation;

  /** A square {@code kernel} with stride equal to it and no padding (PyTorch's {@code MaxPool2d(kernel_size)}). */
  public MaxPool2d(int kernel) {
    this(kernel, kernel, 0, 1);
  }

  /**
   * Square {@code kernel}, {@code stride} and {@code padding} (PyTorch's {@code kernel_size}, {@code stride}, {@code
   * padding}); invalid values throw at forward.
   */
  public MaxPool2d(int kernel, int stride, int padding) {
    this(kernel, stride, padding, 1);
  }

  /**
   * As {@link #MaxPool2d(int, int, int)} with PyTorch's {@code dilation}; only 1 is supported, any other value is
   * refused at forward by {@link PoolOps#maxPool2d}.
   */
  public MaxPool2d(int kernel, int stride, int padding, int dilation) {
    this.kernel = kernel;
    this.stride = stride;
    this.padding = padding;
    this.dilation = dilation;
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    return PoolOps.maxPool2d(x, new int[] {kernel, kernel}, new int[] {stride, stride}, new int[] {padding, padding},
        new int[] {dilation, dilation});
  }

  @Override
  protected String extraRepr() {
    return "kernel_size=" + kernel + ", stride=" + stride + ", padding=" + padding + ", dilation=" + dilation;
  }

  /** PyTorch's {@code kernel_size} (square). */
  public int kernelSize() {
    return kernel;
  }

  /** PyTorch's {@code stride}. */
  public int stride() {
    return stride;
  }

  /** PyTorch's {@code padding}. */
  public int padding() {
    return padding;
  }

  /** PyTorch's {@code dilation}. */
  public int dilation() {
    return dilation;
  }
}
