package io.graft.core.ops;

import static io.graft.core.autograd.Autograd.record;

import io.graft.core.Layout;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Broadcast;
import io.graft.core.autograd.Input;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Reductions over dimensions with {@code keepDim}: sum and max/min are primitives, mean is composed.
 * An empty {@code dims} reduces over every dimension.
 */
public final class ReductionOps {
  private ReductionOps() {}

  /** Sum of all elements (shape {@code []}). */
  public static Tensor sum(Tensor x) {
    return sum(x, false);
  }

  /** Sum over {@code dims}. */
  public static Tensor sum(Tensor x, boolean keepDim, int... dims) {
    Shapes.requireFloat("sum", "input", x);
    int[] d = normalise("sum", x, dims);
    long[] xs = x.shape();
    INDArray xv = x.data();
    // over every element of a dense array in any layout (channels_last): one pass over its memory
    INDArray out = d.length == xs.length && d.length > 1 && Layout.isPermuted(xv)
        ? Layout.flat(xv).sum(keepDim, 0).reshape(keepDim ? ones(xs.length) : new long[0])
        : xv.sum(keepDim, d);
    return record("sum", out, Input.of(x, g -> expandBack(g, xs, d)));  // d/dx = g broadcast back
  }

  private static long[] ones(int rank) {
    long[] s = new long[rank];
    java.util.Arrays.fill(s, 1);
    return s;
  }

  /** Mean of all elements (shape {@code []}). */
  public static Tensor mean(Tensor x) {
    return mean(x, false);
  }

  /** Mean over {@code dims}: sum / count (composed). */
  public static Tensor mean(Tensor x, boolean keepDim, int... dims) {
    int[] d = normalise("mean", x, dims);
    long count = 1;
    for (int i : d) {
      count *= x.shape()[i];
    }
    return ElementwiseOps.mul(sum(x, keepDim, d), 1.0 / count);
  }

  /** Maximum over {@code dims}; the gradient is shared equally between tied maxima (like torch.amax). */
  public static Tensor max(Tensor x, boolean keepDim, int... dims) {
    return extremum("max", x, keepDim, dims);
  }

  /** Minimum over {@code dims}; the gradient is shared equally between tied minima (like torch.amin). */
  public static Tensor min(Tensor x, boolean keepDim, int... dims) {
    return extremum("min", x, keepDim, dims);
  }

  private static Tensor extremum(String op, Tensor x, boolean keepDim, int[] dims) {
    Shapes.requireFloat(op, "input", x);
    if (x.numel() == 0) {
      throw new io.graft.core.ShapeException(op + ": reduction of an empty tensor has no identity");
    }
    int[] d = normalise(op, x, dims);
    INDArray xv = x.data();
    long[] xs = x.shape();
    INDArray kept = op.equals("max") ? xv.max(true, d) : xv.min(true, d);
    INDArray out = keepDim ? kept : kept.reshape(reducedShape(xs, d, false));
    return record(op, out, Input.of(x, g -> {
      // d/dx = g at the extremum, split between ties: mask / count(mask)
      INDArray mask = xv.eq(Broadcast.to(kept, xs)).castTo(xv.dataType());
      INDArray count = mask.sum(true, d);
      INDArray gk = g.reshape(reducedShape(xs, d, true)).div(count);
      return mask.muli(Broadcast.to(gk, xs));
    }));
  }

  /** {@code g} (reduced over {@code dims}, kept or not) broadcast back to {@code shape}. */
  static INDArray expandBack(INDArray g, long[] shape, int[] dims) {
    INDArray gk = g.reshape(reducedShape(shape, dims, true));
    return Broadcast.to(gk, shape);
  }

  static long[] reducedShape(long[] shape, int[] dims, boolean keepDim) {
    boolean[] red = new boolean[shape.length];
    for (int d : dims) {
      red[d] = true;
    }
    int n = 0;
    long[] out = new long[shape.length];
    for (int i = 0; i < shape.length; i++) {
      if (!red[i]) {
        out[n++] = shape[i];
      } else if (keepDim) {
        out[n++] = 1;
      }
    }
    return java.util.Arrays.copyOf(out, n);
  }

  private static int[] normalise(String op, Tensor x, int[] dims) {
    if (x.rank() == 0) {
      Shapes.dims(op, dims, 0); // 0 and -1 name the single element of a 0-d tensor, as in PyTorch
      return new int[0];
    }
    if (dims.length == 0) {
      int[] all = new int[x.rank()];
      for (int i = 0; i < all.length; i++) {
        all[i] = i;
      }
      return all;
    }
    return Shapes.dims(op, dims, x.rank());
  }

  /** Helper for ops that need a filled array of {@code shape}. */
  static INDArray filled(INDArray like, long[] shape, double v) {
    return Nd4j.valueArrayOf(shape, v, like.dataType());
  }
}
