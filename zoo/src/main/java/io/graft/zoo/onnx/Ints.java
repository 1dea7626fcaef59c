package io.graft.zoo.onnx;

import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Broadcast;
import java.util.function.LongBinaryOperator;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Integer and boolean tensors in plain Java: the shape arithmetic of PyTorch exports
 * ({@code Shape → Gather → Mul → Concat → Reshape}) is a handful of int64 values, and libnd4j's integer kernels
 * can kill the JVM (division by zero), so they never see it.
 */
final class Ints {
  private Ints() {}

  static boolean isInt(Tensor t) {
    return t != null && !t.dtype().isFPType();
  }

  static long[] values(Tensor t) {
    if (t.numel() == 0) {
      return new long[0];
    }
    return t.dtype() == DataType.LONG ? t.data().dup('c').reshape(t.numel()).toLongVector()
        : t.data().castTo(DataType.LONG).dup('c').reshape(t.numel()).toLongVector();
  }

  /** Integer tensors here are shape arithmetic: a larger one is refused rather than built element by element. */
  static final long MAX_ELEMENTS = 1L << 24;

  static void checkSize(String op, long[] shape) {
    Shapes.checkNew(op, shape);
    if (Shapes.numel(shape) > MAX_ELEMENTS) {
      throw new io.graft.core.GraftException(op + ": an integer tensor of shape " + Shapes.str(shape) + " is larger "
          + "than Graft's integer path allows (" + MAX_ELEMENTS + " elements)");
    }
  }

  static Tensor of(long[] values, long[] shape, DataType dtype) {
    Shapes.checkData("int tensor", values.length, shape);
    if (values.length == 0) {
      return Tensor.of(Nd4j.create(dtype, shape));
    }
    if (shape.length == 0) {
      return Tensor.of(Nd4j.scalar(DataType.LONG, values[0]).castTo(dtype));
    }
    return Tensor.of(Nd4j.createFromArray(values).reshape('c', shape).castTo(dtype));
  }

  static Tensor vector(long... values) {
    return of(values, new long[] {values.length}, DataType.LONG);
  }

  /** Elementwise {@code f(a, b)} with NumPy broadcasting, in {@code dtype}. */
  static Tensor binary(String op, Tensor a, Tensor b, DataType dtype, LongBinaryOperator f) {
    long[] bv = values(b);
    return broadcast(op, a, b, dtype, (x, j) -> f.applyAsLong(x, bv[j]));
  }

  /** {@code (long) pow(a, b)} for an integer base and any exponent, NumPy broadcasting, in a's type. */
  static Tensor pow(Tensor a, Tensor b) {
    double[] bv = b.data().castTo(DataType.DOUBLE).dup('c').reshape(Math.max(b.numel(), 1)).toDoubleVector();
    return broadcast("Pow", a, b, a.dtype(), (x, j) -> (long) Math.pow(x, bv[j]));
  }

  private interface Combine {
    long apply(long a, int bIndex);
  }

  private static Tensor broadcast(String op, Tensor a, Tensor b, DataType dtype, Combine f) {
    long[] out = Broadcast.shape(op, a.shape(), b.shape());
    checkSize(op, out);
    long[] av = values(a);
    int n = Math.toIntExact(Shapes.numel(out));
    long[] r = new long[n];
    long[] as = pad(a.shape(), out.length);
    long[] bs = pad(b.shape(), out.length);
    long[] idx = new long[out.length];
    for (int k = 0; k < n; k++) {
      long rem = k;
      for (int d = out.length - 1; d >= 0; d--) {
        idx[d] = rem % out[d];
        rem /= out[d];
      }
      r[k] = f.apply(av[flat(idx, as)], flat(idx, bs));
    }
    return of(r, out, dtype);
  }

  private static long[] pad(long[] s, int rank) {
    long[] p = new long[rank];
    java.util.Arrays.fill(p, 1);
    System.arraycopy(s, 0, p, rank - s.length, s.length);
    return p;
  }

  private static int flat(long[] idx, long[] shape) {
    long f = 0;
    for (int d = 0; d < shape.length; d++) {
      f = f * shape[d] + (shape[d] == 1 ? 0 : idx[d]);
    }
    return (int) f;
  }
}
