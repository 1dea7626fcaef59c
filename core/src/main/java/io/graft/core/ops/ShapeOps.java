package io.graft.core.ops;

import static io.graft.core.autograd.Autograd.record;

import io.graft.core.Layout;
import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Autograd;
import io.graft.core.autograd.Broadcast;
import io.graft.core.autograd.Input;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Shape ops. Primitives: reshape, permute, expand, slice, cat. Composed: transpose, flatten, squeeze,
 * unsqueeze.
 */
public final class ShapeOps {
  private ShapeOps() {}

  /** Same data in a new shape (C order); one dimension may be -1. */
  public static Tensor reshape(Tensor x, long... shape) {
    long[] target = inferShape("reshape", x.shape(), Shapes.checkRank("reshape", shape));
    long[] xs = x.shape();
    if (Arrays.equals(xs, target)) {
      return x;
    }
    INDArray out;
    if (x.numel() == 0) {
      out = Nd4j.create(x.dtype(), target);
    } else if (target.length == 0) {
      out = scalarLike(x.data());
    } else {
      out = x.data().reshape('c', target);
    }
    return record("reshape", out, Input.of(x, g -> xs.length == 0 ? scalarLike(g) : g.reshape('c', xs)));
  }

  /** A fresh scalar holding a one-element array's value (ND4J's reshape refuses an empty shape argument). */
  private static INDArray scalarLike(INDArray g) {
    INDArray out = Nd4j.create(g.dataType(), new long[0]);
    out.assign(g.reshape('c', new long[] {1}));
    return out;
  }

  /** Reorders dimensions ({@code dims} is a permutation of 0..rank-1; negatives allowed). */
  public static Tensor permute(Tensor x, int... dims) {
    int r = x.rank();
    if (dims.length != r) {
      throw ShapeException.of("permute", "got " + dims.length + " dims " + Arrays.toString(dims)
          + " for a tensor of rank " + r, x.shape());
    }
    int[] p = new int[r];
    boolean[] seen = new boolean[r];
    for (int i = 0; i < r; i++) {
      p[i] = Shapes.dim("permute", dims[i], r);
      if (seen[p[i]]) {
        throw ShapeException.of("permute", Arrays.toString(dims) + " is not a permutation", x.shape());
      }
      seen[p[i]] = true;
    }
    int[] inv = new int[r];
    for (int i = 0; i < r; i++) {
      inv[p[i]] = i;
    }
    return record("permute", x.data().permute(p), Input.of(x, g -> g.permute(inv)));  // inverse permutation
  }

  /** Swaps two dimensions (composed from permute). */
  public static Tensor transpose(Tensor x, int dim0, int dim1) {
    int r = x.rank();
    int a = Shapes.dim("transpose", dim0, r);
    int b = Shapes.dim("transpose", dim1, r);
    if (r == 0) {
      return x; // PyTorch: transposing a 0-d tensor is the identity
    }
    int[] p = new int[r];
    for (int i = 0; i < r; i++) {
      p[i] = i;
    }
    p[a] = b;
    p[b] = a;
    return a == b ? x : permute(x, p);
  }

  /** Flattens dims {@code startDim..endDim} into one (composed from reshape). */
  public static Tensor flatten(Tensor x, int startDim, int endDim) {
    if (x.rank() == 0) {
      return reshape(x, 1);
    }
    int s = Shapes.dim("flatten", startDim, x.rank());
    int e = Shapes.dim("flatten", endDim, x.rank());
    if (s > e) {
      throw new ShapeException("flatten: start_dim " + startDim + " comes after end_dim " + endDim);
    }
    long[] xs = x.shape();
    long[] out = new long[xs.length - (e - s)];
    int k = 0;
    for (int i = 0; i < s; i++) {
      out[k++] = xs[i];
    }
    long m = 1;
    for (int i = s; i <= e; i++) {
      m *= xs[i];
    }
    out[k++] = m;
    for (int i = e + 1; i < xs.length; i++) {
      out[k++] = xs[i];
    }
    return reshape(x, out);
  }

  /** Removes dimension {@code dim} if its size is 1 (otherwise returns {@code x}, as PyTorch does). */
  public static Tensor squeeze(Tensor x, int dim) {
    int d = Shapes.dim("squeeze", dim, x.rank());
    if (x.rank() == 0 || x.shape()[d] != 1) {
      return x;
    }
    long[] xs = x.shape();
    long[] out = new long[xs.length - 1];
    for (int i = 0, k = 0; i < xs.length; i++) {
      if (i != d) {
        out[k++] = xs[i];
      }
    }
    return reshape(x, out);
  }

  /** Inserts a dimension of size 1 at {@code dim} (in range [-rank-1, rank]). */
  public static Tensor unsqueeze(Tensor x, int dim) {
    int d = Shapes.dim("unsqueeze", dim, x.rank() + 1);
    long[] xs = x.shape();
    long[] out = new long[xs.length + 1];
    for (int i = 0, k = 0; i < out.length; i++) {
      out[i] = i == d ? 1 : xs[k++];
    }
    return reshape(x, out);
  }

  /** Broadcasts {@code x} to {@code shape} (NumPy rules; -1 keeps a size). */
  public static Tensor expand(Tensor x, long... shape) {
    Shapes.checkRank("expand", shape);
    long[] xs = x.shape();
    if (shape.length < xs.length) {
      throw ShapeException.of("expand", "target has fewer dimensions than the input", xs, shape);
    }
    long[] target = shape.clone();
    for (int i = 0; i < target.length; i++) {
      int j = i - (target.length - xs.length);
      if (target[i] == -1) {
        if (j < 0) {
          throw ShapeException.of("expand", "-1 is not allowed in a new leading dimension", xs, shape);
        }
        target[i] = xs[j];
      }
      if (j >= 0 && xs[j] != target[i] && xs[j] != 1) {
        throw ShapeException.of("expand", "size " + xs[j] + " of dimension " + j + " cannot expand to "
            + target[i], xs, shape);
      }
    }
    Shapes.checkNew("expand", target);
    if (Arrays.equals(xs, target)) {
      return x;
    }
    INDArray src = xs.length == target.length ? x.data() : x.data().reshape('c', leftPad(xs, target.length));
    return record("expand", Broadcast.to(src, target), Input.of(x, g -> Broadcast.sumTo(g, xs)));  // sum back
  }

  /** {@code x[start:end:step]} along {@code dim}, PyTorch slicing rules (negative indices wrap, ends clamp). */
  public static Tensor slice(Tensor x, int dim, long start, long end, long step) {
    if (x.rank() == 0) {
      throw new ShapeException("slice: a zero-dimensional tensor cannot be sliced");
    }
    int d = Shapes.dim("slice", dim, x.rank());
    if (step <= 0) {
      throw new ShapeException("slice: step must be positive, got " + step);
    }
    long n = x.shape()[d];
    long s = clampIndex(start, n);
    long e = clampIndex(end, n);
    long count = e > s ? (e - s + step - 1) / step : 0;
    long[] xs = x.shape();
    long[] outShape = xs.clone();
    outShape[d] = count;
    if (count == n) {
      return x;
    }
    // one element: a plain interval (libnd4j rejects a strided interval that selects a single element)
    INDArrayIndex[] idx = count == 0 ? null : count == 1 ? index(xs.length, d, s, s + 1, 1)
        : index(xs.length, d, s, e, step);
    INDArray out = count == 0 ? Nd4j.create(x.dtype(), outShape) : x.data().get(idx);
    if (!Arrays.equals(out.shape(), outShape)) {
      // ND4J returns an empty, shapeless array for the last single row of a view that starts at an offset
      // (x[1:4][2:3]): slice a dense copy instead
      out = x.data().dup('c').get(idx);
    }
    return record("slice", out, Input.of(x, g -> {   // d/dx = g scattered into zeros
      INDArray gx = io.graft.core.NativeMemory.zeros(g.dataType(), xs);
      if (count > 0) {
        gx.get(idx).assign(g);
      }
      return gx;
    }));
  }

  /** Concatenation along {@code dim}; all other sizes and the dtype must agree. */
  public static Tensor cat(int dim, Tensor... xs) {
    if (xs.length == 0) {
      throw new ShapeException("cat: needs at least one tensor");
    }
    int r = xs[0].rank();
    if (r == 0) {
      throw new ShapeException("cat: zero-dimensional tensors cannot be concatenated (reshape them to [1] first)");
    }
    int d = Shapes.dim("cat", dim, r);
    long[] sizes = new long[xs.length];
    for (int i = 0; i < xs.length; i++) {
      Tensor t = xs[i];
      Shapes.requireSameDtype("cat", xs[0], t);
      boolean ok = t.rank() == r;
      for (int k = 0; ok && k < r; k++) {
        ok = k == d || t.shape()[k] == xs[0].shape()[k];
      }
      if (!ok) {
        throw ShapeException.of("cat", "tensor " + i + " does not match tensor 0 outside dimension " + d,
            xs[0].shape(), t.shape());
      }
      sizes[i] = t.shape()[d];
    }
    if (xs.length == 1) {
      return xs[0];
    }
    INDArray[] arrays = new INDArray[xs.length];
    for (int i = 0; i < xs.length; i++) {
      arrays[i] = xs[i].data();
    }
    INDArray out = Nd4j.concat(d, arrays);
    Tensor[] inputs = xs.clone();
    return Autograd.recordJoint("cat", out, inputs, (g, needs) -> {   // d/dx_i = g sliced back
      INDArray[] gs = new INDArray[inputs.length];
      long off = 0;
      for (int i = 0; i < inputs.length; i++) {
        if (needs[i]) {
          gs[i] = g.get(index(r, d, off, off + sizes[i], 1)).dup();
        }
        off += sizes[i];
      }
      return gs;
    });
  }

  static INDArrayIndex[] index(int rank, int dim, long start, long end, long step) {
    INDArrayIndex[] idx = new INDArrayIndex[rank];
    for (int i = 0; i < rank; i++) {
      idx[i] = i == dim ? NDArrayIndex.interval(start, step, end) : NDArrayIndex.all();
    }
    return idx;
  }

  private static long clampIndex(long i, long n) {
    long j = i < 0 ? i + n : i;
    return Math.max(0, Math.min(n, j));
  }

  private static long[] leftPad(long[] s, int rank) {
    long[] out = new long[rank];
    Arrays.fill(out, 1);
    System.arraycopy(s, 0, out, rank - s.length, s.length);
    return out;
  }

  static long[] inferShape(String op, long[] from, long[] shape) {
    long known = 1;
    int infer = -1;
    for (int i = 0; i < shape.length; i++) {
      if (shape[i] == -1) {
        if (infer >= 0) {
          throw ShapeException.of(op, "only one dimension can be -1", from, shape);
        }
        infer = i;
      } else if (shape[i] < 0) {
        throw ShapeException.of(op, "invalid size " + shape[i], from, shape);
      } else {
        try {
          known = Math.multiplyExact(known, shape[i]);
        } catch (ArithmeticException e) {
          throw ShapeException.of(op, "element count overflows", from, shape);
        }
      }
    }
    long n = Shapes.numel(from);
    long[] out = shape.clone();
    if (infer >= 0) {
      if (known == 0 || n % known != 0) {
        throw ShapeException.of(op, "cannot infer the -1 dimension", from, shape);
      }
      out[infer] = n / known;
    } else if (known != n) {
      throw ShapeException.of(op, "element count " + n + " does not match " + known, from, shape);
    }
    return Shapes.checkNew(op, out);
  }

  /**
   * The array itself when its elements are dense in C order, else a C-order copy: libnd4j's grouped convolution
   * fails on sub-views of a strided view (a weight sliced out of a 5-D kernel), and the channel reductions of batch
   * norm reshape their input.
   */
  static INDArray contiguous(INDArray a) {
    return Layout.isCOrdered(a) ? a : a.dup('c');
  }
}
