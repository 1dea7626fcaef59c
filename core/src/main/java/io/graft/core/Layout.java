package io.graft.core;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * How a dense array's elements lie in memory: one gapless block, its dimensions in some order from outermost to
 * innermost — C order, or PyTorch's {@code channels_last} (indexed {@code (N, C, H, W)}, stored {@code N, H, W, C},
 * which is what Graft's float32 convolutions write: oneDNN's convolutions and batch norm run on it without
 * reordering). Shapes and indices never change with the layout; only strides do, so every ND4J op stays correct
 * on any of them, and elementwise ops keep the layout of their inputs (PyTorch's rule), running over the block as
 * one flat vector.
 */
public final class Layout {
  private Layout() {}

  /**
   * The dimensions of {@code a} from outermost to innermost in memory, or null when its elements do not form one
   * gapless block (a slice with gaps, a broadcast, negative strides) or it is empty. Dimensions of size 1, whose
   * stride means nothing, sit just before the first larger-indexed dimension in that order (so a C-ordered array
   * gives {@code 0, 1, ..., rank-1} and a channels_last one {@code 0, 2, 3, 1} whatever its sizes); equal strides
   * keep index order.
   */
  public static int[] order(INDArray a) {
    long[] shape = a.shape();
    long[] stride = a.stride();
    int rank = shape.length;
    if (rank == 0 || a.length() == 0) {
      return null;
    }
    java.util.List<Integer> sized = new java.util.ArrayList<>();
    for (int i = 0; i < rank; i++) {
      if (shape[i] != 1) {
        sized.add(i);
      }
    }
    sized.sort((x, y) -> stride[x] != stride[y] ? Long.compare(stride[y], stride[x]) : Integer.compare(x, y));
    long expect = 1;
    for (int i = sized.size() - 1; i >= 0; i--) {
      int d = sized.get(i);
      if (stride[d] != expect) {
        return null;
      }
      expect *= shape[d];
    }
    java.util.List<Integer> order = new java.util.ArrayList<>(sized);
    for (int d = rank - 1; d >= 0; d--) {
      if (shape[d] == 1) {
        int at = order.size();
        for (int i = 0; i < order.size(); i++) {
          if (order.get(i) > d) {
            at = i;
            break;
          }
        }
        order.add(at, d);
      }
    }
    return order.stream().mapToInt(Integer::intValue).toArray();
  }

  /**
   * Whether {@code a} is dense in C order (strides of size-1 dimensions aside). Zero-dimensional and empty arrays
   * count as C-ordered.
   */
  public static boolean isCOrdered(INDArray a) {
    if (a.rank() == 0 || a.length() == 0) {
      return true;
    }
    int[] o = order(a);
    return o != null && isIdentity(o);
  }

  /**
   * Whether {@code stride} is the C-order (row-major) stride of {@code shape}, size-1 dimensions aside: the layout a
   * file stores and an array must have to be copied as one block.
   */
  public static boolean isCContiguous(long[] shape, long[] stride) {
    long expected = 1;
    for (int i = shape.length - 1; i >= 0; i--) {
      if (shape[i] != 1 && stride[i] != expected) {
        return false;
      }
      expected *= shape[i];
    }
    return true;
  }

  private static boolean isIdentity(int[] order) {
    for (int i = 0; i < order.length; i++) {
      if (order[i] != i) {
        return false;
      }
    }
    return true;
  }

  /** Whether {@code a} is dense in an order other than C order (e.g. channels_last). */
  public static boolean isPermuted(INDArray a) {
    int[] o = order(a);
    return o != null && !isIdentity(o);
  }

  /** Whether {@code a} is 4-D and dense in channels_last order ({@code N, H, W, C} in memory). */
  public static boolean isChannelsLast(INDArray a) {
    return a.rank() == 4 && Arrays.equals(order(a), CHANNELS_LAST);
  }

  private static final int[] CHANNELS_LAST = {0, 2, 3, 1};

  /**
   * Whether {@code a} and {@code b} have the same shape and are both dense with the same strides (size-1
   * dimensions aside): an elementwise op may then run over their memory as two flat vectors.
   */
  public static boolean sameDense(INDArray a, INDArray b) {
    if (!Arrays.equals(a.shape(), b.shape()) || order(a) == null || order(b) == null) {
      return false;
    }
    long[] s = a.shape();
    long[] sa = a.stride();
    long[] sb = b.stride();
    for (int i = 0; i < s.length; i++) {
      if (s[i] != 1 && sa[i] != sb[i]) {
        return false;
      }
    }
    return true;
  }

  /**
   * A 1-D view of a dense array's block of memory, in memory order (see {@link #order}); callers check density
   * first. Writing through it writes the array.
   */
  public static INDArray flat(INDArray a) {
    if (a.rank() == 1 && a.stride()[0] == 1) {
      return a;
    }
    return Nd4j.create(a.data(), new long[] {a.length()}, new long[] {1}, a.offset(), 'c');
  }

  /**
   * An uninitialized array (see {@link NativeMemory#uninitialized}) of {@code ref}'s shape and {@code dtype}, laid
   * out like {@code ref} when {@code ref} is dense (C order otherwise).
   */
  public static INDArray uninitializedLike(INDArray ref, DataType dtype) {
    int[] o = order(ref);
    return o == null ? NativeMemory.uninitialized(dtype, ref.shape()) : uninitialized(dtype, ref.shape(), o);
  }

  /** An uninitialized 4-D array of {@code shape} {@code (N, C, H, W)} stored channels_last. */
  public static INDArray uninitializedChannelsLast(DataType dtype, long... shape) {
    if (shape.length != 4) {
      throw new IllegalArgumentException("channels_last needs 4 dimensions, got " + Arrays.toString(shape));
    }
    return uninitialized(dtype, shape, CHANNELS_LAST);
  }

  private static INDArray uninitialized(DataType dtype, long[] shape, int[] order) {
    boolean identity = true;
    long[] stored = new long[shape.length];
    int[] back = new int[shape.length];
    for (int i = 0; i < order.length; i++) {
      stored[i] = shape[order[i]];
      back[order[i]] = i;
      identity &= order[i] == i;
    }
    if (identity || NativeMemory.count(shape) == 0) {
      return NativeMemory.uninitialized(dtype, shape);
    }
    return NativeMemory.uninitialized(dtype, stored).permute(back);
  }
}
