package io.graft.layers.pool;

import io.graft.core.Tensor;
import io.graft.core.ops.PoolOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * 2-D average pooling (floor output size); {@code stride} defaults to the kernel size and padded zeros count in
 * the divisor unless {@code countIncludePad} is false, as in PyTorch.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.AvgPool2d.html">torch.nn.AvgPool2d</a>
 */
@HoldsNoIntermediates
public final class AvgPool2d extends Module {
  private final int kernel;
  private final int stride;
  private final int padding;
  private final boolean countIncludePad;

  /** A square {@code kernel} with stride equal to it and no padding (PyTorch's {@code AvgPool2d(kernel_size)}). */
  public AvgPool2d(int kernel) {
    this(kernel, kernel, 0, true);
  }

  /**
   * Square {@code kernel}, {@code stride} and {@code padding} (PyTorch's {@code kernel_size}, {@code stride}, {@code
   * padding}), padded zeros counted in the divisor; invalid values throw at forward.
   */
  public AvgPool2d(int kernel, int stride, int padding) {
    this(kernel, stride, padding, true);
  }

  /**
   * As {@link #AvgPool2d(int, int, int)}, with padded zeros in the divisor only if {@code countIncludePad} (PyTorch's
   * {@code count_include_pad}).
   */
  public AvgPool2d(int kernel, int stride, int padding, boolean countIncludePad) {
    this.kernel = kernel;
    this.stride = stride;
    this.padding = padding;
    this.countIncludePad = countIncludePad;
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    return PoolOps.avgPool2d(x, new int[] {kernel, kernel}, new int[] {stride, stride}, new int[] {padding, padding},
        countIncludePad);
  }

  @Override
  protected String extraRepr() {
    return "kernel_size=" + kernel + ", stride=" + stride + ", padding=" + padding + ", count_include_pad="
        + countIncludePad;
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

  /** PyTorch's {@code count_include_pad}. */
  public boolean countIncludePad() {
    return countIncludePad;
  }
}
