package io.graft.core.autograd;

import io.graft.core.Layout;
import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * NumPy broadcasting, in one place: the forward shape rule, the broadcasting binary kernels, and
 * {@link #sumTo}, the single backward rule that sums a gradient back to an input's shape.
 */
public final class Broadcast {
  private Broadcast() {}

  /** The broadcast of two shapes (trailing dimensions aligned; sizes equal or 1), or a ShapeException. */
  public static long[] shape(String op, long[] a, long[] b) {
    int n = Math.max(a.length, b.length);
    Shapes.checkRank(op, n == a.length ? a : b);
    long[] out = new long[n];
    for (int i = 0; i < n; i++) {
      long da = i < n - a.length ? 1 : a[i - (n - a.length)];
      long db = i < n - b.length ? 1 : b[i - (n - b.length)];
      if (da != db && da != 1 && db != 1) {
        throw ShapeException.of(op, "shapes are not broadcastable", a, b);
      }
      out[i] = da == 1 ? db : da;
    }
    return out;
  }

  /**
   * {@code kernel(a, b)} with broadcasting into a fresh array; {@code kernel} is a libnd4j broadcastable op
   * ({@code add}, {@code subtract}, {@code multiply}, {@code divide}, ...). Shapes and dtypes are checked here.
   */
  public static INDArray apply(String op, String kernel, INDArray a, INDArray b) {
    if (a.dataType() != b.dataType()) {
      throw ShapeException.of(op, "dtype mismatch " + a.dataType() + " vs " + b.dataType(), a.shape(), b.shape());
    }
    long[] shape = shape(op, a.shape(), b.shape());
    if (a.length() > 0 && Layout.sameDense(a, b)) {
      // same shape, same dense layout (channels_last activations, say): the result keeps it, and the kernel runs
      // over the three blocks of memory as flat vectors
      INDArray out = Layout.uninitializedLike(a, a.dataType());
      Nd4j.exec(DynamicCustomOp.builder(kernel).addInputs(Layout.flat(a), Layout.flat(b))
          .addOutputs(Layout.flat(out)).build());
      return out;
    }
    // every element is written by the kernel: no need to zero the buffer first
    INDArray out = io.graft.core.NativeMemory.uninitialized(a.dataType(), shape);
    if (out.length() == 0) {
      return out;
    }
    // libnd4j's broadcasting kernels want operands of the output's rank (dividing [4] by [1, 1] failed inside
    // libnd4j): leading 1s, as NumPy's rule adds them, as views
    Nd4j.exec(DynamicCustomOp.builder(kernel).addInputs(toRank(a, shape.length), toRank(b, shape.length))
        .addOutputs(out).build());
    return out;
  }

  /** {@code a} viewed with leading 1s up to {@code rank} dimensions. */
  private static INDArray toRank(INDArray a, int rank) {
    if (a.rank() == rank) {
      return a;
    }
    long[] s = new long[rank];
    Arrays.fill(s, 1);
    System.arraycopy(a.shape(), 0, s, rank - a.rank(), a.rank());
    return a.reshape(a.ordering(), s);
  }

  /**
   * {@code a} materialised at {@code shape} (NumPy broadcasting; {@code a} has the same rank, with 1 in expanded
   * dimensions); {@code a} itself when it already has that shape (callers only read the result). Uses libnd4j's
   * broadcasting {@code assign}, far faster than {@code INDArray.broadcast}.
   */
  public static INDArray to(INDArray a, long[] shape) {
    if (Arrays.equals(a.shape(), shape)) {
      return a;
    }
    INDArray out = io.graft.core.NativeMemory.uninitialized(a.dataType(), shape);
    if (out.length() == 0) {
      return out;
    }
    Nd4j.exec(DynamicCustomOp.builder("assign").addInputs(out, a).addOutputs(out).build());
    return out;
  }

  /** Sums {@code grad} over the dimensions that broadcasting expanded, so that it has {@code shape}. */
  public static INDArray sumTo(INDArray grad, long[] shape) {
    long[] g = grad.shape();
    if (Arrays.equals(g, shape)) {
      return grad;
    }
    int lead = g.length - shape.length;
    if (lead < 0) {
      throw new IllegalStateException("sumTo: gradient " + Arrays.toString(g) + " has fewer dims than "
          + Arrays.toString(shape));
    }
    int count = 0;
    int[] dims = new int[g.length];
    for (int i = 0; i < g.length; i++) {
      if (i < lead || (shape[i - lead] == 1 && g[i] != 1)) {
        dims[count++] = i;
      }
    }
    INDArray r = count == 0 ? grad : grad.sum(true, Arrays.copyOf(dims, count));
    return r.reshape(shape);
  }
}
