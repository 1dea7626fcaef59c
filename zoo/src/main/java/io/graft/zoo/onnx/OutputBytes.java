package io.graft.zoo.onnx;

import io.graft.core.Tensor;
import java.util.Arrays;

/**
 * What a node is about to allocate, computed in Java from its inputs' shapes and its attributes before it runs:
 * the bytes of its outputs, plus the padded copy of the input that padding, pooling and (transposed) convolution
 * build. {@link OnnxModel} checks it against its intermediate-tensor budget, so a 100-byte graph that expands,
 * tiles or pads a tensor to billions of elements is refused before any memory is taken.
 *
 * <p>The figure is an upper bound computed leniently: an input the operator will refuse (a negative size, a
 * missing attribute) counts as zero here and is reported by the operator itself. Products saturate at
 * {@link Long#MAX_VALUE} instead of overflowing. Elementwise operators, reductions, reshapes and slices produce
 * at most their largest input, which already lies within the budget; they are charged that much.
 */
final class OutputBytes {
  private OutputBytes() {}

  /** Bytes that {@code n} allocates for its outputs (and padded copies), given its inputs (null: omitted). */
  static long of(OnnxNode n, Tensor[] in) {
    return switch (n.opType()) {
      case "Expand" -> expand(n, in);
      case "ConstantOfShape" -> constantOfShape(n, in);
      case "Tile" -> tile(n, in);
      case "Pad" -> pad(n, in);
      case "Conv", "ConvTranspose", "MaxPool", "AveragePool" -> window(n, in);
      case "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "PRelu" -> broadcast(in);
      case "Equal" -> broadcast(in);
      case "Mod" -> times(broadcast(in), 4);   // the output, the quotient (B's gradient), A and B broadcast
      case "Range" -> range(in);
      case "ScatterND" -> times(largest(in), 3);   // the output, data's copy for the gradient, a mask
      case "Where" -> times(broadcast(in), 4);   // the output and the broadcast condition, X and Y it selects from
      case "MatMul" -> matmul(in);
      case "Gemm" -> gemm(n, in);
      case "Concat" -> concat(in);
      case "Gather" -> gather(n, in);
      case "Cast" -> cast(n, in);
      case "Constant", "Shape" -> 0;   // bounded by the file's bytes / the input's rank
      default -> largest(in);
    };
  }

  // ---------------------------------------------------------------- saturating arithmetic

  static long times(long a, long b) {
    if (a <= 0 || b <= 0) {
      return 0;
    }
    return a > Long.MAX_VALUE / b ? Long.MAX_VALUE : a * b;
  }

  /** {@code a + b}, saturating at the int64 extremes instead of wrapping. */
  static long plus(long a, long b) {
    long s = a + b;
    if (((a ^ s) & (b ^ s)) < 0) {   // overflow: both operands had the sign the sum lacks
      return a < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
    return s;
  }

  /** |v|, with |Long.MIN_VALUE| saturating to Long.MAX_VALUE. */
  private static long magnitude(long v) {
    return v == Long.MIN_VALUE ? Long.MAX_VALUE : Math.abs(v);
  }

  /** Elements of a shape whose negative sizes count as zero, saturating. */
  static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n = times(n, Math.max(d, 0));
      if (n == 0) {
        return 0;
      }
    }
    return n;
  }

  private static long bytes(Tensor t) {
    return t == null ? 0 : times(t.numel(), t.dtype().width());
  }

  private static int width(Tensor t) {
    return t == null ? 4 : t.dtype().width();
  }

  private static Tensor at(Tensor[] in, int k) {
    return k < in.length ? in[k] : null;
  }

  /** Integer values of a small shape-like input, or null when it is absent or not an integer vector. */
  private static long[] ints(Tensor t) {
    if (t == null || t.dtype().isFPType() || t.rank() > 1) {
      return null;
    }
    return Ints.values(t);
  }

  private static long largest(Tensor[] in) {
    long m = 0;
    for (Tensor t : in) {
      m = Math.max(m, bytes(t));
    }
    return m;
  }

  // ---------------------------------------------------------------- operators that can grow their input

  /** NumPy broadcasting of any number of shapes, each aligned dimension the largest size (lenient). */
  private static long[] broadcastShape(long[]... shapes) {
    int r = 0;
    for (long[] s : shapes) {
      r = Math.max(r, s.length);
    }
    long[] out = new long[r];
    Arrays.fill(out, 1);
    for (long[] s : shapes) {
      for (int k = 0; k < s.length; k++) {
        out[r - s.length + k] = Math.max(out[r - s.length + k], s[k]);
      }
    }
    return out;
  }

  private static long broadcast(Tensor[] in) {
    long[][] shapes = new long[in.length][];
    int w = 1;
    for (int k = 0; k < in.length; k++) {
      shapes[k] = in[k] == null ? new long[0] : in[k].shape();
      w = Math.max(w, width(in[k]));
    }
    return times(numel(broadcastShape(shapes)), w);
  }

  private static long range(Tensor[] in) {
    Long count = IndexOperators.rangeCount(at(in, 0), at(in, 1), at(in, 2));
    return count == null ? 0 : times(count, Math.max(width(at(in, 0)), 8));   // float: a double index vector
  }

  private static long expand(OnnxNode n, Tensor[] in) {
    Tensor x = at(in, 0);
    long[] shape = ints(at(in, 1));
    if (x == null || shape == null) {
      return 0;
    }
    return times(numel(broadcastShape(x.shape(), shape)), Ints.isInt(x) ? 8 : width(x));
  }

  private static long cast(OnnxNode n, Tensor[] in) {
    Tensor x = at(in, 0);
    long to = n.i("to", 1);
    org.nd4j.linalg.api.buffer.DataType t = to == (int) to ? Operators.tensorType((int) to) : null;
    return x == null ? 0 : times(x.numel(), t == null ? 8 : t.width());
  }

  private static long constantOfShape(OnnxNode n, Tensor[] in) {
    long[] shape = ints(at(in, 0));
    if (shape == null) {
      return 0;
    }
    Tensor v = n.has("value") ? n.tensor("value") : null;   // one element (the op refuses more); file-bounded
    return times(numel(shape), v == null ? 4 : v.dtype().isFPType() ? v.dtype().width() : 8);
  }

  private static long tile(OnnxNode n, Tensor[] in) {
    Tensor x = at(in, 0);
    long[] reps = ints(at(in, 1));
    if (x == null || reps == null || reps.length != x.rank()) {
      return 0;
    }
    long[] out = x.shape().clone();
    for (int d = 0; d < out.length; d++) {
      out[d] = times(out[d], reps[d]);
    }
    return times(numel(out), Ints.isInt(x) ? 8 : width(x));
  }

  /** The padded output, charged twice: each axis is padded by a concatenation that copies the tensor so far. */
  private static long pad(OnnxNode n, Tensor[] in) {
    Tensor x = at(in, 0);
    long[] pads = n.opset() < 11 ? n.ints(n.opset() < 2 ? "paddings" : "pads", null) : ints(at(in, 1));
    if (x == null || pads == null || pads.length != 2 * x.rank()) {
      return 0;
    }
    int r = x.rank();
    long[] out = x.shape().clone();
    for (int d = 0; d < r; d++) {
      out[d] = plus(plus(out[d], pads[d]), pads[d + r]);
    }
    return times(numel(out), 2L * width(x));
  }

  /**
   * Conv, ConvTranspose and the pools: the input padded by the explicit pads (ConvTranspose: spread by the
   * stride and padded by the kernel's reach), and the output over it.
   */
  private static long window(OnnxNode n, Tensor[] in) {
    Tensor x = at(in, 0);
    if (x == null || x.rank() < 3) {
      return largest(in);
    }
    boolean conv = n.opType().startsWith("Conv");
    boolean transposed = n.opType().equals("ConvTranspose");
    Tensor w = at(in, 1);
    int s = x.rank() - 2;
    long[] k = conv ? (w == null || w.rank() != x.rank() ? null : Arrays.copyOfRange(w.shape(), 2, w.rank()))
        : n.ints("kernel_shape", null);
    if (k == null || k.length != s) {
      return largest(in);
    }
    long[] stride = orOnes(n.ints("strides", null), s);
    long[] dil = orOnes(n.ints("dilations", null), s);
    long[] outPad = n.ints("output_padding", null);
    long[] pads = n.ints("pads", null);
    long[] target = transposed ? n.ints("output_shape", null) : null;
    if (target != null && target.length != s && target.length != s + 2) {
      target = null;
    }
    boolean ceilOrSame = n.i("ceil_mode", 0) != 0 || n.s("auto_pad", "NOTSET").startsWith("SAME");
    long[] xs = x.shape();
    long padded = times(xs[0], xs[1]);
    long outCells = 1;
    for (int d = 0; d < s; d++) {
      long reach = times(Math.max(k[d] - 1, 0), Math.max(dil[d], 1));
      long size = transposed ? plus(times(Math.max(xs[d + 2] - 1, 0), Math.max(stride[d], 1)), 1) : xs[d + 2];
      long span = size;
      if (pads != null && pads.length == 2 * s) {
        span = plus(plus(span, magnitude(pads[d])), magnitude(pads[d + s]));
      }
      if (transposed) {
        span = plus(plus(span, times(reach, 2)), outPad != null && outPad.length == s ? magnitude(outPad[d]) : 0);
        if (target != null) {   // an output_shape: the spread input is padded (or cropped) to target + reach
          span = Math.max(span, plus(magnitude(target[target.length - s + d]), reach));
        }
      } else if (ceilOrSame) {   // auto_pad SAME pads at most the kernel's reach; ceil_mode adds at most reach + 1
        span = plus(span, plus(reach, 1));
      }
      padded = times(padded, span);
      long cells = transposed ? span : span / Math.max(stride[d], 1) + 1;
      outCells = times(outCells, cells);
    }
    long channels = !conv ? xs[1] : transposed ? times(w.shape()[1], Math.max(n.i("group", 1), 1)) : w.shape()[0];
    long out = times(times(xs[0], channels), outCells);
    return plus(times(padded, width(x)), times(out, width(x)));
  }

  private static long[] orOnes(long[] v, int s) {
    if (v != null && v.length == s) {
      return v;
    }
    long[] ones = new long[s];
    Arrays.fill(ones, 1);
    return ones;
  }

  private static long matmul(Tensor[] in) {
    Tensor a = at(in, 0);
    Tensor b = at(in, 1);
    if (a == null || b == null || a.rank() == 0 || b.rank() == 0) {
      return largest(in);
    }
    long[] as = a.shape();
    long[] bs = b.shape();
    long m = as.length == 1 ? 1 : as[as.length - 2];
    long cols = bs.length == 1 ? 1 : bs[bs.length - 1];
    long[] batch = broadcastShape(Arrays.copyOf(as, Math.max(as.length - 2, 0)),
        Arrays.copyOf(bs, Math.max(bs.length - 2, 0)));
    return times(times(numel(batch), times(m, cols)), Math.max(width(a), width(b)));
  }

  private static long gemm(OnnxNode n, Tensor[] in) {
    Tensor a = at(in, 0);
    Tensor b = at(in, 1);
    if (a == null || b == null || a.rank() != 2 || b.rank() != 2) {
      return largest(in);
    }
    long m = n.i("transA", 0) != 0 ? a.shape()[1] : a.shape()[0];
    long cols = n.i("transB", 0) != 0 ? b.shape()[0] : b.shape()[1];
    return plus(times(times(m, cols), width(a)), bytes(at(in, 2)));
  }

  private static long concat(Tensor[] in) {
    long sum = 0;
    for (Tensor t : in) {
      sum = plus(sum, bytes(t));
    }
    return sum;
  }

  private static long gather(OnnxNode n, Tensor[] in) {
    Tensor x = at(in, 0);
    Tensor idx = at(in, 1);
    if (x == null || idx == null || x.rank() == 0) {
      return largest(in);
    }
    long ax = n.i("axis", 0);
    int a = (int) Math.max(0, Math.min(x.rank() - 1, ax < 0 ? ax + x.rank() : ax));
    long rest = x.shape()[a] == 0 ? 0 : x.numel() / x.shape()[a];
    return times(times(rest, idx.numel()), Ints.isInt(x) ? 8 : width(x));
  }
}
