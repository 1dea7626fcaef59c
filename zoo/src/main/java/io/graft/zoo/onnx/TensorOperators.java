package io.graft.zoo.onnx;

import static io.graft.zoo.onnx.Operators.axes;
import static io.graft.zoo.onnx.Operators.axis;
import static io.graft.zoo.onnx.Operators.in;
import static io.graft.zoo.onnx.Operators.ints;
import static io.graft.zoo.onnx.Operators.one;
import static io.graft.zoo.onnx.Operators.opt;

import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Broadcast;
import io.graft.core.ops.ElementwiseOps;
import io.graft.core.ops.ShapeOps;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/** Shape and layout operators: reshaping, slicing, gathering, padding, tiling, constants and casts. */
final class TensorOperators {
  private TensorOperators() {}

  static void register(Map<String, OnnxOp> ops) {
    ops.put("Identity", (n, in, t) -> one(in(n, in, 0)));
    ops.put("Constant", TensorOperators::constant);
    ops.put("ConstantOfShape", TensorOperators::constantOfShape);
    ops.put("Shape", TensorOperators::shape);
    ops.put("Cast", (n, in, t) -> one(cast(in(n, in, 0), Operators.dtype(n, n.int32("to", 1)))));
    ops.put("Reshape", TensorOperators::reshape);
    ops.put("Flatten", TensorOperators::flatten);
    ops.put("Transpose", TensorOperators::transpose);
    ops.put("Squeeze", TensorOperators::squeeze);
    ops.put("Unsqueeze", TensorOperators::unsqueeze);
    ops.put("Concat", (n, in, t) -> one(ShapeOps.cat(axis(n, n.i("axis", 0), in(n, in, 0).rank()), nonNull(n, in))));
    ops.put("Split", TensorOperators::split);
    ops.put("Slice", TensorOperators::slice);
    ops.put("Gather", TensorOperators::gather);
    ops.put("Pad", TensorOperators::pad);
    ops.put("Tile", TensorOperators::tile);
    ops.put("Expand", TensorOperators::expand);
  }

  private static Tensor[] nonNull(OnnxNode n, Tensor[] in) {
    for (int k = 0; k < in.length; k++) {
      in(n, in, k);
    }
    return in;
  }

  static Tensor cast(Tensor x, DataType to) {
    if (x.dtype() == to) {
      return x;
    }
    if (x.numel() == 0) {   // libnd4j's transforms refuse empty arrays: an empty tensor of the new type
      return Tensor.of(Nd4j.create(to == DataType.HALF || to == DataType.BFLOAT16 ? DataType.FLOAT : to, x.shape()));
    }
    if (to == DataType.HALF || to == DataType.BFLOAT16) {
      // Graft computes in float32/64 (half files are read as float32): round to the half type's values, keep
      // float32, and let the gradient pass straight through
      Tensor xf = x.dtype().isFPType() ? x : Tensor.of(x.data().castTo(DataType.FLOAT));
      Tensor f = xf.dtype() == DataType.FLOAT ? xf : ElementwiseOps.cast(xf, DataType.FLOAT);
      org.nd4j.linalg.api.ndarray.INDArray rounded = f.data().castTo(to).castTo(DataType.FLOAT);
      return io.graft.core.autograd.Autograd.record("cast_" + to, rounded,
          io.graft.core.autograd.Input.of(f, g -> g));   // straight through
    }
    if (to == DataType.BOOL) {
      return Tensor.of(x.data().neq(0));
    }
    if (!x.dtype().isFPType() || !to.isFPType()) {
      if (x.dtype().isFPType()) {   // float -> integer truncates toward zero (C casts, as ONNX Runtime does)
        return Tensor.of(org.nd4j.linalg.ops.transforms.Transforms.sign(x.data(), true).muli(
            org.nd4j.linalg.ops.transforms.Transforms.floor(org.nd4j.linalg.ops.transforms.Transforms.abs(
                x.data(), true), false)).castTo(to));
      }
      return Tensor.of(x.data().castTo(to));
    }
    return ElementwiseOps.cast(x, to);
  }

  private static Tensor[] constant(OnnxNode n, Tensor[] in, boolean training) {
    if (n.has("value")) {
      return one(n.tensor("value"));
    }
    if (n.has("value_float")) {
      return one(Tensor.scalar(DataType.FLOAT, n.f("value_float", 0)));
    }
    if (n.has("value_floats")) {
      float[] v = n.floats("value_floats");
      return one(Tensor.fromArray(v, v.length));
    }
    if (n.has("value_int")) {
      return one(Ints.of(new long[] {n.i("value_int", 0)}, new long[0], DataType.LONG));
    }
    if (n.has("value_ints")) {
      return one(Ints.vector(n.ints("value_ints", null)));
    }
    throw n.error("Constant without a supported value attribute (has " + n.attributeNames() + ")");
  }

  private static Tensor[] constantOfShape(OnnxNode n, Tensor[] in, boolean training) {
    long[] shape = ints(n, in(n, in, 0), "shape");
    Shapes.checkNew("ConstantOfShape", shape);
    Tensor v = n.has("value") ? n.tensor("value") : Tensor.scalar(DataType.FLOAT, 0);
    if (v.numel() != 1) {
      throw n.error("value must hold one element");
    }
    if (!v.dtype().isFPType()) {
      Ints.checkSize("ConstantOfShape", shape);
      long[] vals = new long[Math.toIntExact(Shapes.numel(shape))];
      Arrays.fill(vals, Ints.values(v)[0]);
      return one(Ints.of(vals, shape, v.dtype()));
    }
    return one(Tensor.full(v.dtype(), v.data().getDouble(0), shape));
  }

  private static Tensor[] shape(OnnxNode n, Tensor[] in, boolean training) {
    long[] s = in(n, in, 0).shape();
    int r = s.length;
    long start = n.i("start", 0);
    long end = n.i("end", r);
    int a = (int) Math.min(Math.max(start < 0 ? start + r : start, 0), r);
    int b = (int) Math.min(Math.max(end < 0 ? end + r : end, 0), r);
    return one(Ints.vector(Arrays.copyOfRange(s, a, Math.max(a, b))));
  }

  private static Tensor[] reshape(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    long[] shape = n.opset() < 5 ? n.ints("shape", null) : ints(n, in(n, in, 1), "shape");
    if (shape == null) {
      throw n.error("no shape");
    }
    long[] target = shape.clone();
    boolean allowZero = n.i("allowzero", 0) != 0;
    for (int k = 0; k < target.length; k++) {
      if (target[k] == 0 && !allowZero) {
        if (k >= x.rank()) {
          throw n.error("shape " + Arrays.toString(shape) + " copies dimension " + k + " that the input "
              + Shapes.str(x.shape()) + " lacks");
        }
        target[k] = x.shape()[k];
      }
    }
    return one(ShapeOps.reshape(x, target));
  }

  private static Tensor[] flatten(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    int r = x.rank();
    long ax = n.i("axis", 1);
    if (ax < -r || ax > r) {
      throw n.error("axis " + ax + " is out of range for rank " + r);
    }
    int a = (int) (ax < 0 ? ax + r : ax);
    long rows = 1;
    for (int k = 0; k < a; k++) {
      rows *= x.shape()[k];
    }
    long cols = 1;
    for (int k = a; k < r; k++) {
      cols *= x.shape()[k];
    }
    return one(ShapeOps.reshape(x, rows, cols));
  }

  private static Tensor[] transpose(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    long[] perm = n.ints("perm", null);
    int r = x.rank();
    if (perm == null) {
      perm = new long[r];
      for (int k = 0; k < r; k++) {
        perm[k] = r - 1 - k;
      }
    }
    if (r < 2) {
      return one(x);
    }
    return one(ShapeOps.permute(x, axes(n, perm, r)));
  }

  private static long[] axesOf(OnnxNode n, Tensor[] in) {
    return n.opset() >= 13 ? (opt(in, 1) == null ? null : ints(n, in[1], "axes")) : n.ints("axes", null);
  }

  private static Tensor[] squeeze(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    long[] ax = axesOf(n, in);
    List<Integer> drop = new ArrayList<>();
    if (ax == null) {
      for (int k = 0; k < x.rank(); k++) {
        if (x.shape()[k] == 1) {
          drop.add(k);
        }
      }
    } else {
      for (int a : axes(n, ax, x.rank())) {
        if (x.shape()[a] != 1) {
          throw n.error("cannot squeeze axis " + a + " of size " + x.shape()[a]);
        }
        drop.add(a);
      }
    }
    long[] out = new long[x.rank() - (int) drop.stream().distinct().count()];
    for (int k = 0, j = 0; k < x.rank(); k++) {
      if (!drop.contains(k)) {
        out[j++] = x.shape()[k];
      }
    }
    return one(ShapeOps.reshape(x, out));
  }

  private static Tensor[] unsqueeze(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    long[] ax = axesOf(n, in);
    if (ax == null) {
      throw n.error("Unsqueeze needs axes");
    }
    int r = x.rank() + ax.length;
    int[] a = axes(n, ax, r);
    boolean[] added = new boolean[r];
    for (int v : a) {
      if (added[v]) {
        throw n.error("repeated axis " + v);
      }
      added[v] = true;
    }
    long[] out = new long[r];
    for (int k = 0, j = 0; k < r; k++) {
      out[k] = added[k] ? 1 : x.shape()[j++];
    }
    return one(ShapeOps.reshape(x, out));
  }

  private static Tensor[] split(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    int a = axis(n, n.i("axis", 0), x.rank());
    long[] sizes = n.opset() >= 13 ? (opt(in, 1) == null ? null : ints(n, in[1], "split")) : n.ints("split", null);
    if (n.opset() == 2 && sizes == null && opt(in, 1) != null) {
      sizes = ints(n, in[1], "split");
    }
    int parts = n.outputs().size();
    long dim = x.shape()[a];
    if (sizes == null) {
      if (dim % parts != 0) {
        throw n.error("cannot split size " + dim + " into " + parts + " equal parts");
      }
      sizes = new long[parts];
      Arrays.fill(sizes, dim / parts);
    }
    if (sizes.length != parts || Arrays.stream(sizes).anyMatch(v -> v < 0) || Arrays.stream(sizes).sum() != dim) {
      throw n.error("split " + Arrays.toString(sizes) + " does not cover size " + dim + " in " + parts + " parts");
    }
    Tensor[] out = new Tensor[parts];
    long start = 0;
    for (int k = 0; k < parts; k++) {
      out[k] = sizes[k] == dim ? x : ShapeOps.slice(x, a, start, start + sizes[k], 1);
      start += sizes[k];
    }
    return out;
  }

  private static Tensor[] slice(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    long[] starts;
    long[] ends;
    long[] ax;
    long[] steps = null;
    if (n.opset() < 10) {
      starts = n.ints("starts", null);
      ends = n.ints("ends", null);
      ax = n.ints("axes", null);
    } else {
      starts = ints(n, in(n, in, 1), "starts");
      ends = ints(n, in(n, in, 2), "ends");
      ax = opt(in, 3) == null ? null : ints(n, in[3], "axes");
      steps = opt(in, 4) == null ? null : ints(n, in[4], "steps");
    }
    if (starts == null || ends == null || starts.length != ends.length) {
      throw n.error("starts and ends must be given with the same length");
    }
    if (ax == null) {
      ax = new long[starts.length];
      for (int k = 0; k < ax.length; k++) {
        ax[k] = k;
      }
    }
    if (ax.length != starts.length || (steps != null && steps.length != starts.length)) {
      throw n.error("starts, ends, axes and steps must have the same length");
    }
    if (Arrays.stream(axes(n, ax, x.rank())).distinct().count() != ax.length) {
      throw n.error("axes " + Arrays.toString(ax) + " repeat an axis");
    }
    Tensor y = x;
    for (int k = 0; k < starts.length; k++) {
      int a = axis(n, ax[k], x.rank());
      long step = steps == null ? 1 : steps[k];
      long dim = x.shape()[a];
      if (step == 0) {
        throw n.error("step 0");
      }
      long s = starts[k] < 0 ? starts[k] + dim : starts[k];
      long e = ends[k] < 0 ? ends[k] + dim : ends[k];
      if (step > 0) {
        s = Math.min(Math.max(s, 0), dim);
        e = Math.min(Math.max(e, 0), dim);
        y = ShapeOps.slice(y, a, s, Math.max(s, e), step);
      } else {   // x[s], x[s - st], ... down to above e: the forward strided slice that holds them, flipped
        s = Math.min(Math.max(s, 0), dim - 1);
        e = Math.min(Math.max(e, -1), dim - 1);
        long st = step == Long.MIN_VALUE ? Long.MAX_VALUE : -step;
        long count = s > e ? (s - e - 1) / st + 1 : 0;
        y = count == 0 ? ShapeOps.slice(y, a, 0, 0, 1) : flip(ShapeOps.slice(y, a, s - (count - 1) * st, s + 1, st), a);
      }
    }
    return one(y);
  }

  /**
   * {@code x} reversed along {@code axis} ({@code torch.flip}): one bulk copy by libnd4j's {@code reverse}, no
   * index list; the gradient is the incoming gradient reversed.
   */
  static Tensor flip(Tensor x, int axis) {
    if (x.numel() == 0 || x.shape()[axis] <= 1) {
      return x;
    }
    return io.graft.core.autograd.Autograd.record("flip", reverse(x.data(), axis),
        io.graft.core.autograd.Input.of(x, g -> reverse(g, axis)));
  }

  private static INDArray reverse(INDArray a, int axis) {
    INDArray out = Nd4j.create(a.dataType(), a.shape());
    Nd4j.exec(DynamicCustomOp.builder("reverse").addInputs(a).addOutputs(out).addIntegerArguments(axis).build());
    return out;
  }

  private static Tensor[] gather(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    Tensor indices = in(n, in, 1);
    if (indices.dtype().isFPType() || indices.dtype() == DataType.BOOL) {
      throw n.error("indices must be integers, got " + indices.dtype());
    }
    int a = axis(n, n.i("axis", 0), x.rank());
    long dim = x.shape()[a];
    long[] xs = x.shape();
    long[] outShape = new long[xs.length - 1 + indices.rank()];
    System.arraycopy(xs, 0, outShape, 0, a);
    System.arraycopy(indices.shape(), 0, outShape, a, indices.rank());
    System.arraycopy(xs, a + 1, outShape, a + indices.rank(), xs.length - a - 1);
    Shapes.checkNew("Gather", outShape);
    if (!Ints.isInt(x)) {   // in bulk: the indices stay a tensor, checked and wrapped by native reductions
      INDArray idx = indices.data().castTo(DataType.LONG).reshape(indices.numel());
      if (idx.length() > 0) {
        long lo = idx.minNumber().longValue();
        long hi = idx.maxNumber().longValue();
        if (lo < -dim || hi >= dim) {
          throw n.error("index " + (lo < -dim ? lo : hi) + " is out of range for size " + dim + " of axis " + a);
        }
        if (lo < 0) {
          idx = idx.add(idx.lt(0).castTo(DataType.LONG).muli(dim));
        }
      }
      return one(gatherFloat(x, a, idx, outShape));
    }
    Ints.checkSize("Gather", outShape);   // integer data: shape arithmetic, in Java
    long[] idx = Ints.values(indices);
    for (int k = 0; k < idx.length; k++) {
      if (idx[k] < -dim || idx[k] >= dim) {
        throw n.error("index " + idx[k] + " is out of range for size " + dim + " of axis " + a);
      }
      idx[k] = idx[k] < 0 ? idx[k] + dim : idx[k];
    }
    long[] v = Ints.values(x);
    long inner = 1;
    for (int k = a + 1; k < xs.length; k++) {
      inner *= xs[k];
    }
    long outer = Shapes.numel(Arrays.copyOf(xs, a));
    long[] r = new long[Math.toIntExact(outer * idx.length * inner)];
    int p = 0;
    for (long o = 0; o < outer; o++) {
      for (long i : idx) {
        for (long q = 0; q < inner; q++) {
          r[p++] = v[(int) ((o * dim + i) * inner + q)];
        }
      }
    }
    return one(Ints.of(r, outShape, x.dtype()));
  }

  /**
   * {@code x} indexed along {@code axis} by {@code idx} (in range, int64 vector): libnd4j's {@code gather} over
   * x seen as [outer, dim, inner]; the gradient adds each slice of the incoming gradient back at its index
   * ({@code scatter_add}, serialised so that repeated indices sum).
   */
  private static Tensor gatherFloat(Tensor x, int axis, INDArray idx, long[] outShape) {
    long[] xs = x.shape();
    long outer = Shapes.numel(Arrays.copyOf(xs, axis));
    long dim = xs[axis];
    long inner = Shapes.numel(Arrays.copyOfRange(xs, axis + 1, xs.length));
    long count = idx.length();
    if (Shapes.numel(outShape) == 0) {
      return ShapeOps.reshape(ShapeOps.slice(ShapeOps.reshape(x, outer, dim, inner), 1, 0, 0, 1), outShape);
    }
    INDArray x3 = x.data().dup('c').reshape('c', outer, dim, inner);
    INDArray out = Nd4j.create(x.dtype(), outer, count, inner);
    Nd4j.exec(DynamicCustomOp.builder("gather").addInputs(x3, idx).addOutputs(out).addIntegerArguments(1).build());
    return io.graft.core.autograd.Autograd.record("gather", out.reshape('c', outShape),
        io.graft.core.autograd.Input.of(x, g -> {
          INDArray rows = g.dup('c').reshape('c', outer, count, inner).permute(1, 0, 2).dup('c')
              .reshape('c', count, outer * inner);
          INDArray acc = Nd4j.zeros(g.dataType(), dim, outer * inner);
          Nd4j.exec(DynamicCustomOp.builder("scatter_add").addInputs(acc, idx, rows).addOutputs(acc)
              .addBooleanArguments(true).build());
          return acc.reshape('c', dim, outer, inner).permute(1, 0, 2).dup('c').reshape('c', xs);
        }));
  }

  /** Constant padding by {@code begin}/{@code end} per dimension (negative values crop). */
  static Tensor padConstant(Tensor x, long[] begin, long[] end, double value) {
    Tensor y = x;
    for (int d = 0; d < begin.length; d++) {
      y = padAxis(y, d, begin[d], end[d], "constant", value);
    }
    return y;
  }

  private static Tensor padAxis(Tensor x, int d, long b, long e, String mode, double value) {
    if (b < 0 || e < 0) {
      long dim = x.shape()[d];
      x = ShapeOps.slice(x, d, Math.max(-b, 0), dim - Math.max(-e, 0), 1);
      b = Math.max(b, 0);
      e = Math.max(e, 0);
    }
    if (b == 0 && e == 0) {
      return x;
    }
    long dim = x.shape()[d];
    List<Tensor> parts = new ArrayList<>();
    parts.add(border(x, d, b, true, mode, value, dim));
    parts.add(x);
    parts.add(border(x, d, e, false, mode, value, dim));
    parts.removeIf(p -> p == null);
    return ShapeOps.cat(d, parts.toArray(new Tensor[0]));
  }

  private static Tensor border(Tensor x, int d, long width, boolean before, String mode, double value, long dim) {
    if (width == 0) {
      return null;
    }
    if (mode.equals("constant")) {
      long[] s = x.shape().clone();
      s[d] = width;
      return Tensor.full(x.dtype(), value, Shapes.checkNew("Pad", s));
    }
    if (dim == 0) {
      throw new io.graft.core.GraftException(mode + " padding of an empty dimension");
    }
    if (mode.equals("edge")) {   // the border slice broadcast to the padding's width
      long at = before ? 0 : dim - 1;
      long[] s = x.shape().clone();
      s[d] = width;
      return ShapeOps.expand(ShapeOps.slice(x, d, at, at + 1, 1), s);
    }
    if (!mode.equals("reflect")) {
      throw new io.graft.core.GraftException("unknown pad mode '" + mode + "'");
    }
    if (width >= dim) {
      throw new io.graft.core.GraftException("reflect padding of " + width + " needs a dimension larger than "
          + "that, got " + dim);
    }
    // before: x[width], ..., x[1]; after: x[dim-2], ..., x[dim-1-width]: a slice, flipped
    return flip(before ? ShapeOps.slice(x, d, 1, width + 1, 1) : ShapeOps.slice(x, d, dim - 1 - width, dim - 1, 1), d);
  }

  private static Tensor[] pad(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    String mode = n.s("mode", "constant");
    long[] pads;
    double value;
    if (n.opset() < 11) {
      pads = n.ints(n.opset() < 2 ? "paddings" : "pads", null);
      value = n.f("value", 0f);
    } else {
      pads = ints(n, in(n, in, 1), "pads");
      value = opt(in, 2) == null ? 0 : Operators.scalar(n, in[2], "constant_value");
    }
    int r = x.rank();
    if (pads == null || pads.length != 2 * r) {
      throw n.error("pads " + Arrays.toString(pads) + " needs " + 2 * r + " values for rank " + r);
    }
    if (!mode.equals("constant") && !mode.equals("reflect") && !mode.equals("edge")) {
      throw n.error("unsupported pad mode '" + mode + "'");
    }
    long[] outShape = x.shape().clone();
    for (int d = 0; d < r; d++) {
      try {
        outShape[d] = Math.addExact(outShape[d], Math.addExact(pads[d], pads[d + r]));
      } catch (ArithmeticException e) {
        throw n.error("pads " + Arrays.toString(pads) + " overflow the shape");
      }
    }
    Shapes.checkNew("Pad", outShape);
    Tensor y = x;
    for (int d = 0; d < r; d++) {
      y = padAxis(y, d, pads[d], pads[d + r], mode, value);
    }
    return one(y);
  }

  private static Tensor[] tile(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    long[] reps = ints(n, in(n, in, 1), "repeats");
    if (reps.length != x.rank()) {
      throw n.error("repeats " + Arrays.toString(reps) + " must have one value per dimension of "
          + Shapes.str(x.shape()));
    }
    long[] outShape = x.shape().clone();
    for (int d = 0; d < reps.length; d++) {
      if (reps[d] < 0) {
        throw n.error("negative repeat " + reps[d]);
      }
      try {
        outShape[d] = Math.multiplyExact(outShape[d], reps[d]);
      } catch (ArithmeticException e) {
        throw n.error("repeats " + Arrays.toString(reps) + " overflow the shape");
      }
    }
    Shapes.checkNew("Tile", outShape);
    Tensor y = x;
    for (int d = 0; d < reps.length; d++) {
      if (reps[d] != 1) {   // [.., n, ..] -> [.., 1, n, ..] -> [.., r, n, ..] -> [.., r*n, ..]: one broadcast copy
        long[] ys = y.shape();
        long[] big = new long[ys.length + 1];
        System.arraycopy(ys, 0, big, 0, d);
        big[d] = reps[d];
        System.arraycopy(ys, d, big, d + 1, ys.length - d);
        long[] flat = ys.clone();
        flat[d] = ys[d] * reps[d];
        y = ShapeOps.reshape(ShapeOps.expand(ShapeOps.unsqueeze(y, d), big), flat);
      }
    }
    return one(y);
  }

  private static Tensor[] expand(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    long[] shape = ints(n, in(n, in, 1), "shape");
    long[] out = Broadcast.shape("Expand", x.shape(), shape);
    if (Ints.isInt(x)) {
      Ints.checkSize("Expand", out);
      return one(Ints.binary("Expand", x, Ints.of(new long[(int) Shapes.numel(out)], out, DataType.LONG), x.dtype(),
          (a, b) -> a));
    }
    return one(ShapeOps.expand(x, out));
  }
}
