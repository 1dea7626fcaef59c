package io.graft.core.ops;

import static io.graft.core.autograd.Autograd.record;

import io.graft.core.GraftException;
import io.graft.core.Layout;
import io.graft.core.NativeMemory;
import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Autograd;
import io.graft.core.autograd.Input;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * 2-D pooling on NCHW-indexed input: max and average pooling on oneDNN's primitives for float32 channels_last input
 * ({@link Layout}, {@link OneDnnPool}), on libnd4j's kernels otherwise (as NHWC for channels_last); adaptive average
 * pooling composed from them.
 */
public final class PoolOps {
  private PoolOps() {}

  /**
   * Max pooling; padded positions count as -∞. Output size {@code (H + 2p - d (k - 1) - 1) / s + 1}
   * (floor, PyTorch's ceil_mode=False).
   *
   * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html">torch.nn.MaxPool2d</a>
   */
  public static Tensor maxPool2d(Tensor x, int[] kernel, int[] stride, int[] padding, int[] dilation) {
    Window win = Window.check("max_pool2d", x, kernel, stride, padding, dilation);
    if (win.dH() != 1 || win.dW() != 1) {
      // libnd4j's dilated max-pool kernel gives different windows than PyTorch's (checked against a fixture)
      throw new GraftException("max_pool2d with dilation " + java.util.Arrays.toString(dilation)
          + ": not supported (libnd4j's dilated max-pool disagrees with PyTorch); use dilation 1");
    }
    INDArray xv = x.data();
    Tensor direct = direct("max_pool2d", x, win, OneDnnPool.algorithm(true, false));
    if (direct != null) {
      return direct;
    }
    INDArray out = run("maxpool2d", win, 0, xv);
    return record("max_pool2d", out, Input.of(x, g -> runBackward("maxpool2d_bp", win, 0, xv, g)));
  }

  /**
   * Average pooling. With {@code countIncludePad} (PyTorch's default) padded zeros count in the divisor.
   *
   * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.AvgPool2d.html">torch.nn.AvgPool2d</a>
   */
  public static Tensor avgPool2d(Tensor x, int[] kernel, int[] stride, int[] padding, boolean countIncludePad) {
    Window win = Window.check("avg_pool2d", x, kernel, stride, padding, new int[] {1, 1});
    INDArray xv = x.data();
    Tensor direct = direct("avg_pool2d", x, win, OneDnnPool.algorithm(false, countIncludePad));
    if (direct != null) {
      return direct;
    }
    int mode = countIncludePad ? 1 : 0;
    INDArray out = run("avgpool2d", win, mode, xv);
    return record("avg_pool2d", out, Input.of(x, g -> runBackward("avgpool2d_bp", win, mode, xv, g)));
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

  /**
   * Float32 channels_last input on the CPU: oneDNN's pooling ({@link OneDnnPool}), whose max pool keeps its argmax
   * for a one-pass backward; null when it does not take the input.
   */
  private static Tensor direct(String op, Tensor x, Window win, int algorithm) {
    INDArray xv = x.data();
    if (!OneDnnPool.takes(xv)) {
      return null;
    }
    try {
      INDArray[] r = OneDnnPool.forward(xv, win, algorithm, Autograd.willRecord(x));
      return record(op, r[0], Input.of(x, g -> OneDnnPool.backward(xv, g, r[1], win, algorithm)));
    } catch (OneDnn.Unsupported e) {
      return null; // a shape oneDNN has no primitive for: libnd4j's kernels
    }
  }

  private static long ceilDiv(long a, long b) {
    return -Math.floorDiv(-a, b);
  }

  private static INDArray run(String kernel, Window w, int mode, INDArray x) {
    boolean cl = Layout.isChannelsLast(x);
    long[] shape = {x.size(0), x.size(1), w.hOut, w.wOut};
    // a channels_last input pools as NHWC and gives a channels_last output (PyTorch's rule)
    INDArray out = cl ? Layout.uninitializedChannelsLast(x.dataType(), shape)
        : NativeMemory.uninitialized(x.dataType(), shape);
    Nd4j.exec(DynamicCustomOp.builder(kernel).addInputs(cl ? nhwc(x) : x).addOutputs(cl ? nhwc(out) : out)
        .addIntegerArguments(w.iargs(mode, cl)).build());
    return out;
  }

  private static INDArray runBackward(String kernel, Window w, int mode, INDArray x, INDArray g) {
    if (!Layout.isChannelsLast(x)) {
      INDArray gx = NativeMemory.zeros(x.dataType(), x.shape());
      Nd4j.exec(DynamicCustomOp.builder(kernel).addInputs(x, g).addOutputs(gx).addIntegerArguments(w.iargs(mode,
          false)).build());
      return gx;
    }
    INDArray gcl = Layout.isChannelsLast(g) ? g : Layout.uninitializedChannelsLast(g.dataType(), g.shape()).assign(g);
    INDArray gx = Layout.uninitializedChannelsLast(x.dataType(), x.shape());
    Layout.flat(gx).assign(0);
    Nd4j.exec(DynamicCustomOp.builder(kernel).addInputs(nhwc(x), nhwc(gcl)).addOutputs(nhwc(gx))
        .addIntegerArguments(w.iargs(mode, true)).build());
    return gx;
  }

  /** A channels_last array indexed as stored: {@code (N, H, W, C)}, C-ordered. */
  private static INDArray nhwc(INDArray channelsLast) {
    return channelsLast.permute(0, 2, 3, 1);
  }

  /** Validated pooling window; every check runs before native code. */
  record Window(int kH, int kW, int sH, int sW, int pH, int pW, int dH, int dW, long hOut, long wOut) {
    int[] iargs(int extra, boolean nhwc) {
      // kH, kW, sH, sW, pH, pW, dH, dW, sameMode (0), extraParam0 (avg: 1 = count padding), dataFormat (1 = NHWC)
      return new int[] {kH, kW, sH, sW, pH, pW, dH, dW, 0, extra, nhwc ? 1 : 0};
    }

    static Window check(String op, Tensor x, int[] k, int[] s, int[] p, int[] d) {
      Shapes.requireRank(op, "input", x, 4);
      Shapes.requireFloat(op, "input", x);
      ConvOps.pair(op, "kernel_size", k, 1);
      ConvOps.pair(op, "stride", s, 1);
      ConvOps.pair(op, "padding", p, 0);
      ConvOps.pair(op, "dilation", d, 1);
      if (2 * p[0] > k[0] || 2 * p[1] > k[1]) {
        throw new ShapeException(op + ": padding " + java.util.Arrays.toString(p)
            + " should be at most half of kernel size " + java.util.Arrays.toString(k));
      }
      long[] xs = x.shape();
      long effH = (long) d[0] * (k[0] - 1) + 1;
      long effW = (long) d[1] * (k[1] - 1) + 1;
      long ph = xs[2] + 2L * p[0];
      long pw = xs[3] + 2L * p[1];
      if (xs[0] < 1 || xs[1] < 1 || effH > ph || effW > pw) {
        throw ShapeException.of(op, "window " + effH + "x" + effW + " does not fit the padded input " + ph + "x" + pw,
            xs);
      }
      long ho = (ph - effH) / s[0] + 1;
      long wo = (pw - effW) / s[1] + 1;
      return new Window(k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], ho, wo);
    }
  }
}
