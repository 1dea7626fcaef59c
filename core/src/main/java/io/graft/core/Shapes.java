package io.graft.core;

import java.util.Arrays;

/** Shape arithmetic and the checks every op runs in Java before it calls native code. */
public final class Shapes {
  private Shapes() {}

  /**
   * The highest rank a tensor may have: libnd4j's shape buffers hold at most 32 dimensions, and a larger rank
   * overruns them in native code (a JVM abort, not an exception). PyTorch allows 64. Every shape a tensor is
   * created with, read from a file or computed by an op, is checked against this before any native call.
   */
  public static final int MAX_RANK = 32;

  /** Throws unless {@code shape} has at most {@link #MAX_RANK} dimensions. */
  public static long[] checkRank(String op, long[] shape) {
    if (shape.length > MAX_RANK) {
      throw new ShapeException(op + ": rank " + shape.length + " exceeds the maximum of " + MAX_RANK
          + " dimensions");
    }
    return shape;
  }

  /**
   * The number of elements of {@code shape} (1 for a scalar's empty shape); throws {@code ArithmeticException} on long
   * overflow, which {@link #checkNew} turns into a {@link ShapeException}.
   */
  public static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  /**
   * Validates a shape for a new tensor: rank at most {@link #MAX_RANK}, no negative sizes, element count fits in
   * an int-indexed buffer, and no single size above that limit either (an empty tensor of shape [0, 2^63 - 1]
   * overflows libnd4j's stride arithmetic).
   */
  public static long[] checkNew(String op, long[] shape) {
    checkRank(op, shape);
    for (long d : shape) {
      if (d < 0) {
        throw ShapeException.of(op, "negative dimension", shape);
      }
      if (d > Integer.MAX_VALUE - 8) {
        throw ShapeException.of(op, "a dimension of more than 2^31 elements", shape);
      }
    }
    long n;
    try {
      n = numel(shape);
    } catch (ArithmeticException e) {
      throw ShapeException.of(op, "element count overflows", shape);
    }
    if (n > Integer.MAX_VALUE - 8) {
      throw ShapeException.of(op, "more than 2^31 elements", shape);
    }
    return shape;
  }

  /**
   * {@link #checkNew} plus: {@code length} values exactly fill {@code shape}; throws {@link ShapeException} naming
   * {@code op} otherwise.
   */
  public static void checkData(String op, int length, long[] shape) {
    checkNew(op, shape);
    if (numel(shape) != length) {
      throw ShapeException.of(op, length + " values do not fill the shape (" + numel(shape) + " elements)", shape);
    }
  }

  /** Normalises a possibly negative dimension index for a tensor of {@code rank}. */
  public static int dim(String op, int dim, int rank) {
    int r = Math.max(rank, 1);
    if (dim < -r || dim >= r) {
      throw new ShapeException(op + ": dimension " + dim + " out of range for a tensor of rank " + rank);
    }
    return dim < 0 ? dim + r : dim;
  }

  /** Normalised, sorted, duplicate-free dimensions. */
  public static int[] dims(String op, int[] dims, int rank) {
    int[] out = new int[dims.length];
    for (int i = 0; i < dims.length; i++) {
      out[i] = dim(op, dims[i], rank);
    }
    Arrays.sort(out);
    for (int i = 1; i < out.length; i++) {
      if (out[i] == out[i - 1]) {
        throw new ShapeException(op + ": dimension " + out[i] + " repeated in " + Arrays.toString(dims));
      }
    }
    return out;
  }

  /** {@code shape} as {@code "[2, 3]"}, the form every shape message uses. */
  public static String str(long[] shape) {
    return Arrays.toString(shape);
  }

  /** Throws unless {@code t} has one of the given ranks. */
  public static void requireRank(String op, String arg, Tensor t, int... ranks) {
    for (int r : ranks) {
      if (t.rank() == r) {
        return;
      }
    }
    throw ShapeException.of(op, arg + " must have rank " + Arrays.toString(ranks).replaceAll("[\\[\\]]", "")
        .replace(", ", " or ") + ", got rank " + t.rank(), t.shape());
  }

  /** Throws unless both tensors have the same dtype. */
  public static void requireSameDtype(String op, Tensor a, Tensor b) {
    if (a.dtype() != b.dtype()) {
      throw ShapeException.of(op, "dtype mismatch " + a.dtype() + " vs " + b.dtype(), a.shape(), b.shape());
    }
  }

  /** Throws unless the tensor is floating point. */
  public static void requireFloat(String op, String arg, Tensor t) {
    if (!t.dtype().isFPType()) {
      throw ShapeException.of(op, arg + " must be floating point, got " + t.dtype(), t.shape());
    }
  }
}
