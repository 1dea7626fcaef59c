package io.graft.zoo.onnx;

import static io.graft.zoo.onnx.Operators.in;
import static io.graft.zoo.onnx.Operators.one;
import static io.graft.zoo.onnx.Operators.opt;

import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.ops.ConvOps;
import io.graft.core.ops.DropoutOps;
import io.graft.core.ops.ElementwiseOps;
import io.graft.core.ops.NormOps;
import io.graft.core.ops.PoolOps;
import io.graft.core.ops.ReductionOps;
import io.graft.core.ops.ShapeOps;
import io.graft.core.random.Rng;
import java.util.Arrays;
import java.util.Map;

/** Convolution, normalisation, pooling and dropout. 1-D inputs run as 2-D with a unit height. */
final class NnOperators {
  private NnOperators() {}

  static void register(Map<String, OnnxOp> ops) {
    ops.put("Conv", NnOperators::conv);
    ops.put("ConvTranspose", NnOperators::convTranspose);
    ops.put("BatchNormalization", NnOperators::batchNorm);
    ops.put("InstanceNormalization", NnOperators::instanceNorm);
    ops.put("MaxPool", (n, in, t) -> pool(n, in, true));
    ops.put("AveragePool", (n, in, t) -> pool(n, in, false));
    ops.put("GlobalAveragePool", (n, in, t) -> one(globalPool(in(n, in, 0), false)));
    ops.put("GlobalMaxPool", (n, in, t) -> one(globalPool(in(n, in, 0), true)));
    ops.put("Dropout", NnOperators::dropout);
  }

  /** Over the spatial dimensions, kept as size 1; an (N, C) input has none and passes through. */
  private static Tensor globalPool(Tensor x, boolean max) {
    if (x.rank() <= 2) {
      return x;
    }
    return max ? ReductionOps.max(x, true, spatial(x)) : ReductionOps.mean(x, true, spatial(x));
  }

  private static int[] spatial(Tensor x) {
    int[] d = new int[Math.max(x.rank() - 2, 0)];
    for (int k = 0; k < d.length; k++) {
      d[k] = k + 2;
    }
    return d;
  }

  private static long[] attr(OnnxNode n, String name, int s, long dflt) {
    long[] v = n.int32s(name, null);
    if (v == null) {
      v = new long[s];
      Arrays.fill(v, dflt);
    }
    if (v.length != s) {
      throw n.error(name + " " + Arrays.toString(v) + " does not match " + s + " spatial dimensions");
    }
    for (long x : v) {
      if (x < (dflt == 0 ? 0 : 1)) {
        throw n.error(name + " " + Arrays.toString(v) + " must be " + (dflt == 0 ? "non-negative" : "positive"));
      }
    }
    return v;
  }

  /**
   * Begin and end padding per spatial dimension: explicit {@code pads}, or {@code auto_pad} SAME_UPPER /
   * SAME_LOWER (output = ceil(input / stride)) or VALID.
   */
  private static long[][] pads(OnnxNode n, long[] in, long[] k, long[] stride, long[] dil) {
    int s = k.length;
    long[] b = new long[s];
    long[] e = new long[s];
    String auto = n.s("auto_pad", "NOTSET");
    if (auto.equals("SAME_UPPER") || auto.equals("SAME_LOWER")) {
      for (int d = 0; d < s; d++) {
        long out = (in[d] + stride[d] - 1) / stride[d];
        long total = Math.max(0, (out - 1) * stride[d] + (k[d] - 1) * dil[d] + 1 - in[d]);
        b[d] = auto.equals("SAME_UPPER") ? total / 2 : total - total / 2;
        e[d] = total - b[d];
      }
    } else if (!auto.equals("VALID")) {
      if (!auto.equals("NOTSET")) {
        throw n.error("unknown auto_pad '" + auto + "'");
      }
      long[] p = n.int32s("pads", null);
      if (p != null) {
        if (p.length != 2 * s) {
          throw n.error("pads " + Arrays.toString(p) + " needs " + 2 * s + " values");
        }
        for (int d = 0; d < s; d++) {
          b[d] = p[d];
          e[d] = p[d + s];
          if (b[d] < 0 || e[d] < 0) {
            throw n.error("negative pads " + Arrays.toString(p));
          }
        }
      }
    }
    return new long[][] {b, e};
  }

  /** x with unit height inserted for 1-D ops. */
  private static Tensor to2d(Tensor x, int s) {
    return s == 1 ? ShapeOps.unsqueeze(x, 2) : x;
  }

  private static Tensor from2d(Tensor y, int s) {
    return s == 1 ? ShapeOps.squeeze(y, 2) : y;
  }

  private static long[] with1(long[] v, int s, long one) {
    return s == 1 ? new long[] {one, v[0]} : v;
  }

  /** The spatial rank (1 to 3) of a Conv/ConvTranspose whose weight has the input's rank. */
  private static int spatialRank(OnnxNode n, Tensor x, Tensor w) {
    int s = x.rank() - 2;
    if (s < 1 || s > 3 || w.rank() != x.rank()) {
      throw n.error(n.opType() + " needs an N×C×D1×... input of 1 to 3 spatial dimensions and a weight of the same "
          + "rank, got " + Shapes.str(x.shape()) + " and " + Shapes.str(w.shape()));
    }
    return s;
  }

  private static Tensor[] conv(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    Tensor w = in(n, in, 1);
    Tensor b = opt(in, 2);
    int s = spatialRank(n, x, w);
    long[] k = Arrays.copyOfRange(w.shape(), 2, w.rank());
    long[] declared = n.int32s("kernel_shape", null);
    if (declared != null && !Arrays.equals(declared, k)) {
      throw n.error("kernel_shape " + Arrays.toString(declared) + " differs from the weight's " + Arrays.toString(k));
    }
    long[] stride = attr(n, "strides", s, 1);
    long[] dil = attr(n, "dilations", s, 1);
    long[][] p = pads(n, Arrays.copyOfRange(x.shape(), 2, x.rank()), k, stride, dil);
    return one(convNd(x, w, b, stride, p[0], p[1], dil, group(n)));
  }

  private static int group(OnnxNode n) {
    long g = n.i("group", 1);
    if (g < 1 || g > Integer.MAX_VALUE) {
      throw n.error("group must be positive, got " + g);
    }
    return (int) g;
  }

  /** 1-D (as 2-D with unit height), 2-D, or 3-D (one 2-D convolution per depth tap, summed) convolution. */
  static Tensor convNd(Tensor x, Tensor w, Tensor b, long[] stride, long[] pb, long[] pe, long[] dil, int groups) {
    int s = x.rank() - 2;
    if (s == 3) {
      long[] xs = x.shape();
      Tensor xp = TensorOperators.padConstant(x, new long[] {0, 0, pb[0], 0, 0}, new long[] {0, 0, pe[0], 0, 0}, 0);
      long kd = w.shape()[2];
      long depth = xp.shape()[2];
      long od = (depth - ((kd - 1) * dil[0] + 1)) / stride[0] + 1;
      if (od <= 0) {
        throw new io.graft.core.ShapeException("conv3d: the input depth " + xs[2] + " is smaller than the kernel");
      }
      Tensor sum = null;
      for (long t = 0; t < kd; t++) {
        long first = t * dil[0];   // planes first, first + stride, ... (od of them): one strided slice
        Tensor planes = ShapeOps.slice(xp, 2, first, first + (od - 1) * stride[0] + 1, stride[0]);   // [N, C, OD, H, W]
        Tensor batch = ShapeOps.reshape(ShapeOps.permute(planes, 0, 2, 1, 3, 4), xs[0] * od, xs[1], xs[3], xs[4]);
        Tensor wt = ShapeOps.squeeze(ShapeOps.slice(w, 2, t, t + 1, 1), 2);
        Tensor y = convNd(batch, wt, null, Arrays.copyOfRange(stride, 1, 3), Arrays.copyOfRange(pb, 1, 3),
            Arrays.copyOfRange(pe, 1, 3), Arrays.copyOfRange(dil, 1, 3), groups);
        sum = sum == null ? y : ElementwiseOps.add(sum, y);
      }
      long o = sum.shape()[1];
      Tensor y = ShapeOps.permute(ShapeOps.reshape(sum, xs[0], od, o, sum.shape()[2], sum.shape()[3]), 0, 2, 1, 3, 4);
      return b == null ? y : ElementwiseOps.add(y, ShapeOps.reshape(b, o, 1, 1, 1));
    }
    Tensor x2 = to2d(x, s);
    Tensor w2 = s == 1 ? ShapeOps.unsqueeze(w, 2) : w;
    long[] b2 = with1(pb, s, 0);
    long[] e2 = with1(pe, s, 0);
    long[] padding = b2;
    if (!Arrays.equals(b2, e2)) {   // asymmetric: pad explicitly, convolve without padding
      x2 = TensorOperators.padConstant(x2, new long[] {0, 0, b2[0], b2[1]}, new long[] {0, 0, e2[0], e2[1]}, 0);
      padding = new long[2];
    }
    Tensor y = ConvOps.conv2d(x2, w2, b, Operators.toInts(with1(stride, s, 1)), Operators.toInts(padding),
        Operators.toInts(with1(dil, s, 1)), groups);
    return from2d(y, s);
  }

  /**
   * ConvTranspose as the convolution it is the gradient of: the input spread out by the stride (zeros between),
   * padded by {@code dilation * (k - 1) - pads} (+ output_padding at the end), convolved with the weight
   * flipped and its in/out channels swapped per group.
   */
  private static Tensor[] convTranspose(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    Tensor w = in(n, in, 1);
    Tensor b = opt(in, 2);
    int s = spatialRank(n, x, w);
    int groups = group(n);
    long cin = w.shape()[0];
    long coutPerGroup = w.shape()[1];
    if (x.shape()[1] != cin || cin % groups != 0) {
      throw n.error("input has " + x.shape()[1] + " channels, the weight " + Shapes.str(w.shape()) + " with group "
          + groups + " expects " + cin);
    }
    long[] k = Arrays.copyOfRange(w.shape(), 2, w.rank());
    long[] stride = attr(n, "strides", s, 1);
    long[] dil = attr(n, "dilations", s, 1);
    long[] outPad = attr(n, "output_padding", s, 0);
    long[] size = Arrays.copyOfRange(x.shape(), 2, x.rank());
    long[] pb = new long[s];
    long[] pe = new long[s];
    long[] outShape = n.int32s("output_shape", null);
    String auto = n.s("auto_pad", "NOTSET");
    if (outShape != null || auto.equals("SAME_UPPER") || auto.equals("SAME_LOWER")) {
      if (outShape != null && outShape.length == s + 2) {
        outShape = Arrays.copyOfRange(outShape, 2, s + 2);
      }
      for (int d = 0; d < s; d++) {
        long target = outShape != null ? outShape[d] : size[d] * stride[d];
        long total = stride[d] * (size[d] - 1) + outPad[d] + ((k[d] - 1) * dil[d] + 1) - target;
        long half = Math.floorDiv(total, 2);   // negative totals grow the output at the end, as ONNX's reference
        if (auto.equals("SAME_UPPER")) {
          pb[d] = half;
          pe[d] = total - half;
        } else {
          pb[d] = total - half;
          pe[d] = half;
        }
      }
    } else if (!auto.equals("VALID")) {
      long[] p = n.int32s("pads", null);
      if (p != null) {
        if (p.length != 2 * s) {
          throw n.error("pads " + Arrays.toString(p) + " needs " + 2 * s + " values");
        }
        pb = Arrays.copyOfRange(p, 0, s);
        pe = Arrays.copyOfRange(p, s, 2 * s);
      }
    }
    Tensor spread = x;
    for (int d = 0; d < s; d++) {
      spread = spread(spread, d + 2, stride[d]);
    }
    long[] cb = new long[s];
    long[] ce = new long[s];
    for (int d = 0; d < s; d++) {
      cb[d] = dil[d] * (k[d] - 1) - pb[d];
      ce[d] = dil[d] * (k[d] - 1) - pe[d] + outPad[d];
    }
    long[] zb = new long[s + 2];
    long[] ze = new long[s + 2];
    System.arraycopy(cb, 0, zb, 2, s);
    System.arraycopy(ce, 0, ze, 2, s);
    spread = TensorOperators.padConstant(spread, zb, ze, 0);   // negative values crop
    // weight [Cin, Cout/g, k...] -> [Cout, Cin/g, k...], flipped
    long[] grouped = new long[s + 3];
    grouped[0] = groups;
    grouped[1] = cin / groups;
    grouped[2] = coutPerGroup;
    System.arraycopy(k, 0, grouped, 3, s);
    int[] perm = new int[s + 3];
    perm[0] = 0;
    perm[1] = 2;
    perm[2] = 1;
    for (int d = 0; d < s; d++) {
      perm[d + 3] = d + 3;
    }
    long[] convShape = new long[s + 2];
    convShape[0] = groups * coutPerGroup;
    convShape[1] = cin / groups;
    System.arraycopy(k, 0, convShape, 2, s);
    Tensor wc = ShapeOps.reshape(ShapeOps.permute(ShapeOps.reshape(w, grouped), perm), convShape);
    for (int d = 0; d < s; d++) {
      wc = TensorOperators.flip(wc, d + 2);
    }
    long[] ones = new long[s];
    Arrays.fill(ones, 1);
    return one(convNd(spread, wc, b, ones, new long[s], new long[s], dil, groups));
  }

  /** Inserts {@code stride - 1} zeros between neighbours along {@code dim}: length (n - 1) * stride + 1. */
  private static Tensor spread(Tensor x, int dim, long stride) {
    if (stride == 1) {
      return x;
    }
    long[] xs = x.shape();
    long[] withSlot = new long[xs.length + 1];
    System.arraycopy(xs, 0, withSlot, 0, dim + 1);
    withSlot[dim + 1] = 1;
    System.arraycopy(xs, dim + 1, withSlot, dim + 2, xs.length - dim - 1);
    Tensor slot = ShapeOps.reshape(x, withSlot);
    long[] zerosShape = withSlot.clone();
    zerosShape[dim + 1] = stride - 1;
    Tensor z = Tensor.zeros(x.dtype(), zerosShape);
    Tensor joined = ShapeOps.cat(dim + 1, slot, z);
    long[] flat = xs.clone();
    flat[dim] = xs[dim] * stride;
    return ShapeOps.slice(ShapeOps.reshape(joined, flat), dim, 0, (xs[dim] - 1) * stride + 1, 1);
  }

  /**
   * Whether a BatchNormalization node normalises with its batch's statistics: the graph decides this, not
   * {@code train()}/{@code eval()} (opset 14+: {@code training_mode}; earlier: when its running statistics are asked
   * for, or {@code is_test} is 0 before opset 7). Such a node mixes the rows of a batch.
   */
  static boolean batchStatistics(OnnxNode n) {
    boolean statsWanted = n.outputs().stream().skip(1).anyMatch(o -> !o.isEmpty());
    return n.opset() >= 14 ? n.i("training_mode", 0) != 0
        : n.opset() < 7 ? n.i("is_test", 0) == 0 && statsWanted : statsWanted;
  }

  private static Tensor[] batchNorm(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    if (x.rank() < 2) {
      throw n.error("BatchNormalization needs an N×C×... input, got " + Shapes.str(x.shape()));
    }
    if (x.rank() > 4) {   // per-channel statistics do not see the spatial layout: fold D×H×W into one dimension
      long[] xs = x.shape();
      Tensor[] in2 = in.clone();
      in2[0] = ShapeOps.reshape(x, xs[0], xs[1], x.numel() / Math.max(xs[0] * xs[1], 1), 1);
      Tensor[] out = batchNorm(n, in2, training);
      out[0] = ShapeOps.reshape(out[0], xs);
      return out;
    }
    if (n.opset() < 9 && n.i("spatial", 1) == 0) {
      throw n.error("BatchNormalization with spatial=0 (per-activation statistics) is not supported");
    }
    boolean batchStats = batchStatistics(n);
    double eps = n.f("epsilon", 1e-5f);
    double momentum = 1 - n.f("momentum", 0.9f);   // ONNX: running = running * momentum + batch * (1 - momentum)
    Tensor mean = in(n, in, 3);
    Tensor var = in(n, in, 4);
    if (batchStats) {
      // normalise with the batch's statistics; the optional outputs are the updated running statistics
      // (ONNX: running = running * momentum + batch * (1 - momentum), batch variance biased)
      Tensor y = NormOps.batchNorm(x, Tensor.of(mean.data().dup()), Tensor.of(var.data().dup()), in(n, in, 1),
          in(n, in, 2), true, momentum, eps);
      int[] dims = new int[x.rank() - 1];
      dims[0] = 0;
      for (int k = 1; k < dims.length; k++) {
        dims[k] = k + 1;
      }
      Tensor xd = x.detach();
      Tensor bm = ReductionOps.mean(xd, false, dims);
      long[] cs = new long[x.rank()];
      Arrays.fill(cs, 1);
      cs[1] = x.shape()[1];
      Tensor centred = ElementwiseOps.sub(xd, ShapeOps.reshape(bm, cs));
      Tensor bv = ReductionOps.mean(ElementwiseOps.mul(centred, centred), false, dims);
      double keep = 1 - momentum;
      Tensor rm = ElementwiseOps.add(ElementwiseOps.mul(mean.detach(), keep), ElementwiseOps.mul(bm, momentum));
      Tensor rv = ElementwiseOps.add(ElementwiseOps.mul(var.detach(), keep), ElementwiseOps.mul(bv, momentum));
      return new Tensor[] {y, rm, rv, bm, bv};   // opsets < 14 also name the batch statistics (saved_*)
    }
    return one(NormOps.batchNorm(x, mean, var, in(n, in, 1), in(n, in, 2), false, momentum, eps));
  }

  /** y = scale * (x - mean) / sqrt(var + eps) + B, statistics per sample and channel over the spatial dims. */
  private static Tensor[] instanceNorm(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    if (x.rank() < 3) {
      throw n.error("InstanceNormalization needs N×C×D1×... input, got " + Shapes.str(x.shape()));
    }
    int[] dims = spatial(x);
    Tensor centred = ElementwiseOps.sub(x, ReductionOps.mean(x, true, dims));
    Tensor var = ReductionOps.mean(ElementwiseOps.mul(centred, centred), true, dims);
    Tensor y = ElementwiseOps.div(centred, ElementwiseOps.sqrt(ElementwiseOps.add(var, n.f("epsilon", 1e-5f))));
    long[] cs = new long[x.rank() - 1];
    Arrays.fill(cs, 1);
    cs[0] = x.shape()[1];
    return one(ElementwiseOps.add(ElementwiseOps.mul(y, ShapeOps.reshape(in(n, in, 1), cs)),
        ShapeOps.reshape(in(n, in, 2), cs)));
  }

  private static Tensor[] pool(OnnxNode n, Tensor[] in, boolean max) {
    Tensor x = in(n, in, 0);
    boolean wantIndices = max && n.outputs().size() > 1 && !n.outputs().get(1).isEmpty();
    if (max && !x.dtype().isFPType()) {   // integer max-pool: exact in float64
      Tensor[] in2 = in.clone();
      in2[0] = Tensor.of(x.data().castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE));
      Tensor[] r = pool(n, in2, true);
      r[0] = Tensor.of(r[0].data().castTo(x.dtype()));
      return r;
    }
    int s = x.rank() - 2;
    if (s < 1 || s > 3) {
      throw n.error(n.opType() + " needs an N×C×D1×... input of 1 to 3 spatial dimensions, got "
          + Shapes.str(x.shape()));
    }
    long[] k = n.int32s("kernel_shape", null);
    if (k == null || k.length != s || Arrays.stream(k).anyMatch(v -> v < 1)) {
      throw n.error("kernel_shape " + Arrays.toString(k) + " must be " + s + " positive sizes");
    }
    long[] stride = attr(n, "strides", s, 1);
    long[] dil = attr(n, "dilations", s, 1);
    long[] size = Arrays.copyOfRange(x.shape(), 2, x.rank());
    long[][] p = pads(n, size, k, stride, dil);
    Window w = new Window(k, stride, dil, p[0], p[1], n.i("ceil_mode", 0) != 0, n.i("count_include_pad", 0) != 0);
    if (!max && Arrays.stream(dil).anyMatch(v -> v != 1)) {
      throw n.error("dilated AveragePool is not supported");
    }
    Tensor y = poolNd(x, w, max);
    if (wantIndices) {
      return new Tensor[] {y, argmax(x, w, y.shape(), n.i("storage_order", 0) != 0)};
    }
    return one(y);
  }

  /**
   * MaxPool's Indices output: for every output cell the flat index of its maximum in the input (row-major, or
   * column-major over the spatial dimensions with storage_order=1); the first maximum wins. Computed in Java.
   */
  private static Tensor argmax(Tensor x, Window w, long[] yShape, boolean columnMajor) {
    int s = x.rank() - 2;
    long[] xs = x.shape();
    double[] v = x.data().castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).dup('c').reshape(x.numel())
        .toDoubleVector();
    long spatial = 1;
    for (int d = 0; d < s; d++) {
      spatial *= xs[d + 2];
    }
    long outSpatial = 1;
    for (int d = 0; d < s; d++) {
      outSpatial *= yShape[d + 2];
    }
    long planes = xs[0] * xs[1];
    long[] r = new long[Math.toIntExact(planes * outSpatial)];
    long[] o = new long[s];
    long[] kk = new long[s];
    for (long p = 0; p < planes; p++) {
      for (long q = 0; q < outSpatial; q++) {
        long rem = q;
        for (int d = s - 1; d >= 0; d--) {
          o[d] = rem % yShape[d + 2];
          rem /= yShape[d + 2];
        }
        double best = Double.NEGATIVE_INFINITY;
        long bestIndex = -1;
        long taps = 1;
        for (int d = 0; d < s; d++) {
          taps *= w.k()[d];
        }
        for (long t = 0; t < taps; t++) {
          long tr = t;
          for (int d = s - 1; d >= 0; d--) {
            kk[d] = tr % w.k()[d];
            tr /= w.k()[d];
          }
          long flat = 0;
          long colFlat = 0;
          long colStride = 1;
          boolean inside = true;
          for (int d = 0; d < s; d++) {
            long pos = o[d] * w.stride()[d] - w.begin()[d] + kk[d] * w.dil()[d];
            if (pos < 0 || pos >= xs[d + 2]) {
              inside = false;
              break;
            }
            flat = flat * xs[d + 2] + pos;
            colFlat += pos * colStride;
            colStride *= xs[d + 2];
          }
          if (!inside) {
            continue;
          }
          double val = v[(int) (p * spatial + flat)];
          if (bestIndex < 0 || val > best) {
            best = val;
            bestIndex = p * spatial + (columnMajor ? colFlat : flat);
          }
        }
        r[(int) (p * outSpatial + q)] = bestIndex;
      }
    }
    return Ints.of(r, yShape, org.nd4j.linalg.api.buffer.DataType.LONG);
  }

  /** A pooling window per spatial dimension. */
  private record Window(long[] k, long[] stride, long[] dil, long[] begin, long[] end, boolean ceil,
      boolean includePad) {
    Window dim(int d) {
      return new Window(new long[] {k[d]}, new long[] {stride[d]}, new long[] {dil[d]}, new long[] {begin[d]},
          new long[] {end[d]}, ceil, includePad);
    }

    Window last2() {
      int r = k.length;
      return new Window(Arrays.copyOfRange(k, r - 2, r), Arrays.copyOfRange(stride, r - 2, r),
          Arrays.copyOfRange(dil, r - 2, r), Arrays.copyOfRange(begin, r - 2, r), Arrays.copyOfRange(end, r - 2, r),
          ceil, includePad);
    }
  }

  /**
   * 1-D, 2-D or 3-D pooling. Max-pooling and averaging (with or without padded cells counted) are separable, so
   * 3-D runs as 2-D over height and width, then 1-D over depth.
   */
  private static Tensor poolNd(Tensor x, Window w, boolean max) {
    int s = x.rank() - 2;
    if (s == 3) {
      long[] xs = x.shape();
      long n = xs[0];
      long c = xs[1];
      long d = xs[2];
      Tensor hw = poolNd(ShapeOps.reshape(x, n, c * d, xs[3], xs[4]), w.last2(), max);   // [N, C*D, OH, OW]
      long oh = hw.shape()[2];
      long ow = hw.shape()[3];
      Tensor byDepth = ShapeOps.reshape(ShapeOps.permute(ShapeOps.reshape(hw, n, c, d, oh, ow), 0, 1, 3, 4, 2),
          n, c * oh * ow, d);
      Tensor y = poolNd(byDepth, w.dim(0), max);   // [N, C*OH*OW, OD]
      long od = y.shape()[2];
      return ShapeOps.permute(ShapeOps.reshape(y, n, c, oh, ow, od), 0, 1, 4, 2, 3);
    }
    long[] size = Arrays.copyOfRange(x.shape(), 2, x.rank());
    long[] extra = new long[s];   // ceil_mode: more end padding so that the last partial window is kept
    if (w.ceil()) {
      for (int d = 0; d < s; d++) {
        long span = size[d] + w.begin()[d] + w.end()[d] - ((w.k()[d] - 1) * w.dil()[d] + 1);
        long out = (span + w.stride()[d] - 1) / w.stride()[d] + 1;
        if ((out - 1) * w.stride()[d] >= size[d] + w.begin()[d]) {
          out--;   // the last window must start inside the input or its begin padding (PyTorch's rule)
        }
        extra[d] = Math.max(0, (out - 1) * w.stride()[d] + (w.k()[d] - 1) * w.dil()[d] + 1
            - (size[d] + w.begin()[d] + w.end()[d]));
      }
    }
    Tensor x2 = to2d(x, s);
    long[] pb = with1(w.begin(), s, 0);
    long[] pe = with1(w.end(), s, 0);
    long[] ex = with1(extra, s, 0);
    int[] k2 = Operators.toInts(with1(w.k(), s, 1));
    int[] st2 = Operators.toInts(with1(w.stride(), s, 1));
    int[] d2 = Operators.toInts(with1(w.dil(), s, 1));
    // libnd4j's pools take symmetric padding of at most half the kernel
    boolean plain = Arrays.equals(pb, pe) && ex[0] == 0 && ex[1] == 0 && 2 * pb[0] <= k2[0] && 2 * pb[1] <= k2[1];
    if (max) {
      boolean dilated = d2[0] != 1 || d2[1] != 1;
      if (plain && !dilated) {
        return from2d(PoolOps.maxPool2d(x2, k2, st2, Operators.toInts(pb), d2), s);
      }
      // padding that never wins: -inf for libnd4j's pool, the lowest finite value for the masked maxima
      Tensor xp = TensorOperators.padConstant(x2, new long[] {0, 0, pb[0], pb[1]},
          new long[] {0, 0, pe[0] + ex[0], pe[1] + ex[1]}, dilated ? -Float.MAX_VALUE : Double.NEGATIVE_INFINITY);
      return from2d(dilated ? dilatedMaxPool(xp, k2, st2, d2) : PoolOps.maxPool2d(xp, k2, st2, new int[2], d2), s);
    }
    if (plain) {
      return from2d(PoolOps.avgPool2d(x2, k2, st2, Operators.toInts(pb), w.includePad()), s);
    }
    // general padding: window sums over zero-padded input divided by the count of the cells that count
    long[] b4 = {0, 0, pb[0], pb[1]};
    long[] e4 = {0, 0, pe[0] + ex[0], pe[1] + ex[1]};
    Tensor sums = PoolOps.avgPool2d(TensorOperators.padConstant(x2, b4, e4, 0), k2, st2, new int[2], true);
    long[] xs = x2.shape();
    Tensor ones = Tensor.ones(x2.dtype(), 1, 1, xs[2], xs[3]);
    Tensor mask = w.includePad()
        ? TensorOperators.padConstant(TensorOperators.padConstant(ones, b4, new long[] {0, 0, pe[0], pe[1]}, 1),
            new long[4], new long[] {0, 0, ex[0], ex[1]}, 0)
        : TensorOperators.padConstant(ones, b4, e4, 0);
    Tensor counts = PoolOps.avgPool2d(mask, k2, st2, new int[2], true);
    return from2d(ElementwiseOps.div(sums, counts), s);
  }

  /**
   * Max-pooling with dilation over an already padded input, as the elementwise maximum of one strided slice per
   * kernel offset (libnd4j's dilated max-pool disagrees with PyTorch and ONNX).
   */
  private static Tensor dilatedMaxPool(Tensor x, int[] k, int[] s, int[] d) {
    long h = x.shape()[2];
    long w = x.shape()[3];
    long oh = (h - ((long) (k[0] - 1) * d[0] + 1)) / s[0] + 1;
    long ow = (w - ((long) (k[1] - 1) * d[1] + 1)) / s[1] + 1;
    Tensor y = null;
    for (int i = 0; i < k[0]; i++) {
      for (int j = 0; j < k[1]; j++) {
        long r0 = (long) i * d[0];
        long c0 = (long) j * d[1];
        Tensor part = ShapeOps.slice(ShapeOps.slice(x, 2, r0, r0 + (oh - 1) * s[0] + 1, s[0]), 3, c0,
            c0 + (ow - 1) * s[1] + 1, s[1]);
        y = y == null ? part : MathOperators.maximum(y, part);
      }
    }
    return y;
  }

  /** Identity unless the graph asks for training (opset 12+ training_mode input, or opset < 7 is_test=0). */
  private static Tensor[] dropout(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    double ratio = n.opset() >= 12 ? (opt(in, 1) == null ? 0.5 : Operators.scalar(n, in[1], "ratio"))
        : n.f("ratio", 0.5f);
    boolean train = n.opset() >= 12 ? opt(in, 2) != null && Operators.scalar(n, in[2], "training_mode") != 0
        : n.opset() < 7 && n.has("is_test") && n.i("is_test", 0) == 0;
    Tensor y = train && ratio > 0 ? DropoutOps.dropout(x, ratio, true, DROPOUT_RNG) : x;
    if (n.outputs().size() > 1 && !n.outputs().get(1).isEmpty()) {
      if (train && ratio > 0) {
        throw n.error("Dropout's mask output in training mode is not supported");
      }
      return new Tensor[] {y, Tensor.of(org.nd4j.linalg.factory.Nd4j.ones(x.shape()).castTo(
          org.nd4j.linalg.api.buffer.DataType.BOOL))};
    }
    return one(y);
  }

  private static final Rng DROPOUT_RNG = new Rng(0);
}
