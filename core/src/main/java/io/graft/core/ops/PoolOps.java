package io.graft.core.ops;

import static io.graft.core.autograd.Autograd.record;

import io.graft.core.GraftException;
import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Autograd;
import io.graft.core.autograd.Input;
import io.graft.core.backend.Backends;
import io.graft.core.backend.Kernels;
import io.graft.core.backend.Pool2dMode;
import io.graft.core.backend.Pool2dWindow;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * 2-D pooling on NCHW-indexed input: max and average pooling on the kernels {@link Backends} picks (a
 * channels_last input gives a channels_last output); adaptive average pooling composed from them.
 */
public final class PoolOps {
  private PoolOps() {}

  /**
   * Max pooling; padded positions count as -∞. Output size {@code (H + 2p - d (k - 1) - 1) / s + 1}
   * (floor, PyTorch's ceil_mode=False). Backward: the gradient goes to each window's maximum.
   *
   * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html">torch.nn.MaxPool2d</a>
   */
  public static Tensor maxPool2d(Tensor x, int[] kernel, int[] stride, int[] padding, int[] dilation) {
    Pool2dWindow win = Pool2dWindow.check("max_pool2d", x, kernel, stride, padding, dilation);
    if (win.dH() != 1 || win.dW() != 1) {
      // libnd4j's dilated max-pool kernel gives different windows than PyTorch's (checked against a fixture)
      throw new GraftException("max_pool2d with dilation " + java.util.Arrays.toString(dilation)
          + ": not supported (libnd4j's dilated max-pool disagrees with PyTorch); use dilation 1");
    }
    return pool("max_pool2d", x, win, Pool2dMode.MAX);
  }

  /**
   * Average pooling. With {@code countIncludePad} (PyTorch's default) padded zeros count in the divisor. Backward:
   * each window's gradient spread evenly over it.
   *
   * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.AvgPool2d.html">torch.nn.AvgPool2d</a>
   */
  public static Tensor avgPool2d(Tensor x, int[] kernel, int[] stride, int[] padding, boolean countIncludePad) {
    Pool2dWindow win = Pool2dWindow.check("avg_pool2d", x, kernel, stride, padding, new int[] {1, 1});
    return pool("avg_pool2d", x, win, countIncludePad ? Pool2dMode.AVG_INCLUDE_PAD : Pool2dMode.AVG_EXCLUDE_PAD);
  }

  private static Tensor pool(String op, Tensor x, Pool2dWindow win, Pool2dMode mode) {
    INDArray xv = x.data();
    boolean record = Autograd.willRecord(x);
    Kernels kernels = Backends.pool2d(win, mode, xv, record);
    Kernels.Pooled out = kernels.pool2d(win, mode, xv, record);
    return record(op, out.output(), Input.of(x, g -> kernels.pool2dBackward(win, mode, xv, g, out)));
  }

  /**
   * Adaptive average pooling to {@code (outH, outW)}: output cell i averages input rows
   * {@code [floor(i H / outH), ceil((i + 1) H / outH))}, likewise for columns (PyTorch's rule). Composed:
   * a mean for 1×1, one average pool when the sizes divide, slices and means otherwise.
   */
  public static Tensor adaptiveAvgPool2d(Tensor x, int outH, int outW) {
    Shapes.requireRank("adaptive_avg_pool2d", "input", x, 4);
    if (outH < 1 || outW < 1) {
      throw new ShapeException("adaptive_avg_pool2d: output size must be positive, got " + outH + "x" + outW);
    }
    long h = x.shape()[2];
    long w = x.shape()[3];
    if (h < 1 || w < 1) {
      throw ShapeException.of("adaptive_avg_pool2d", "empty spatial input", x.shape());
    }
    if (outH == 1 && outW == 1) {
      return ReductionOps.mean(x, true, 2, 3);
    }
    if (h % outH == 0 && w % outW == 0) {
      int kh = (int) (h / outH);
      int kw = (int) (w / outW);
      return avgPool2d(x, new int[] {kh, kw}, new int[] {kh, kw}, new int[] {0, 0}, true);
    }
    Tensor[] rows = new Tensor[outH];
    for (int i = 0; i < outH; i++) {
      Tensor band = ShapeOps.slice(x, 2, Math.floorDiv(i * h, outH), ceilDiv((i + 1) * h, outH), 1);
      Tensor[] cells = new Tensor[outW];
      for (int j = 0; j < outW; j++) {
        Tensor cell = ShapeOps.slice(band, 3, Math.floorDiv(j * w, outW), ceilDiv((j + 1) * w, outW), 1);
        cells[j] = ReductionOps.mean(cell, true, 2, 3);
      }
      rows[i] = ShapeOps.cat(3, cells);
    }
    return ShapeOps.cat(2, rows);
  }

  private static long ceilDiv(long a, long b) {
    return -Math.floorDiv(-a, b);
  }
}
