package io.graft.zoo.onnx;

import static io.graft.zoo.onnx.Operators.in;
import static io.graft.zoo.onnx.Operators.one;

import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Autograd;
import io.graft.core.autograd.Input;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Index-building operators that torchvision's Swin Transformer adds to a default {@code torch.onnx.export}: Range
 * ({@code torch.arange} of the shifted-window mask's coordinates) and ScatterND ({@code attn_mask[h, w] = count},
 * slice assignment). Mod and Not, the other two, are elementwise and live in {@link MathOperators}.
 */
final class IndexOperators {
  private IndexOperators() {}

  static void register(Map<String, OnnxOp> ops) {
    ops.put("Range", IndexOperators::range);
    ops.put("ScatterND", IndexOperators::scatterNd);
  }

  /** The number of elements Range makes: max(ceil((limit - start) / delta), 0), null when an input is unusable. */
  static Long rangeCount(Tensor start, Tensor limit, Tensor delta) {
    if (start == null || limit == null || delta == null || start.numel() != 1 || limit.numel() != 1
        || delta.numel() != 1) {
      return null;
    }
    if (Ints.isInt(start) && Ints.isInt(limit) && Ints.isInt(delta)) {
      long s = Ints.values(start)[0];
      long l = Ints.values(limit)[0];
      long d = Ints.values(delta)[0];
      if (d == 0) {
        return null;
      }
      try {
        return Math.max(-Math.floorDiv(-Math.subtractExact(l, s), d), 0);   // ceil((l - s) / d), exactly
      } catch (ArithmeticException e) {
        return null;
      }
    }
    double s = start.data().getDouble(0);
    double l = limit.data().getDouble(0);
    double d = delta.data().getDouble(0);
    double c = Math.ceil((l - s) / d);
    if (!Double.isFinite(c) || c >= Long.MAX_VALUE) {
      return null;
    }
    return Math.max((long) c, 0);
  }

  /**
   * Range (opset 11): start, start + delta, ... while below limit (above it for a negative delta), in the inputs'
   * common type. Integers are exact; floating-point values are computed as start + i * delta in double precision
   * and rounded once to the type (as {@code torch.arange} does). The inputs are scalars; the output has no gradient.
   */
  static Tensor[] range(OnnxNode n, Tensor[] in, boolean training) {
    Tensor start = in(n, in, 0);
    Tensor limit = in(n, in, 1);
    Tensor delta = in(n, in, 2);
    String[] names = {"start", "limit", "delta"};
    Tensor[] ts = {start, limit, delta};
    for (int k = 0; k < 3; k++) {
      if (ts[k].numel() != 1 || ts[k].rank() > 1) {
        throw n.error(names[k] + " must be a scalar, got shape " + Shapes.str(ts[k].shape()));
      }
      if (ts[k].dtype() != start.dtype()) {
        throw n.error("start, limit and delta must have one type, got " + start.dtype() + ", " + limit.dtype()
            + " and " + delta.dtype());
      }
    }
    if (start.dtype() == DataType.BOOL) {
      throw n.error("start, limit and delta must be numbers, got BOOL");
    }
    boolean ints = Ints.isInt(start);
    if (ints ? Ints.values(delta)[0] == 0 : delta.data().getDouble(0) == 0) {
      throw n.error("delta is 0");
    }
    Long count = rangeCount(start, limit, delta);
    if (count == null) {
      throw n.error("cannot count the elements from " + start.data().getDouble(0) + " to " + limit.data().getDouble(0)
          + " by " + delta.data().getDouble(0));
    }
    long[] shape = {count};
    if (count > Integer.MAX_VALUE - 8) {
      throw n.error("Range of " + count + " elements is larger than a Java array");
    }
    if (ints) {
      Ints.checkSize("Range", shape);
      long s = Ints.values(start)[0];
      long d = Ints.values(delta)[0];
      long[] v = new long[Math.toIntExact(count)];
      for (int i = 0; i < v.length; i++) {
        v[i] = s + i * d;   // within [start, limit): no overflow
      }
      return one(Ints.of(v, shape, start.dtype()));
    }
    Shapes.checkNew("Range", shape);
    if (count == 0) {
      return one(Tensor.of(Nd4j.create(start.dtype(), shape)));
    }
    double s = start.data().getDouble(0);
    double d = delta.data().getDouble(0);
    double[] v = new double[Math.toIntExact(count)];   // within the intermediate budget (OutputBytes)
    for (int i = 0; i < v.length; i++) {
      v[i] = s + i * d;
    }
    return one(Tensor.of(Nd4j.createFromArray(v).castTo(start.dtype())));
  }

  /**
   * ScatterND (opset 11–17): a copy of data with the slices data[indices[i]] replaced by updates[i] (reduction
   * "none"), or added to ("add") or multiplied by ("mul") them. indices is an integer tensor [..., k] with k ≤
   * rank(data) (negative indices count from the end); updates has shape indices.shape[:-1] + data.shape[k:].
   * Every index is checked in Java before any native call; with reduction "none" a repeated index is refused
   * (ONNX leaves the result undefined). Floating-point data and updates carry gradients: to data, the incoming
   * gradient where no update replaced it (times the product of the multiplied updates for "mul"); to updates, the
   * incoming gradient at each update's position (times data there for "mul", which refuses repeated indices when
   * a gradient is recorded). Integer data (shape arithmetic) is computed in Java.
   */
  static Tensor[] scatterNd(OnnxNode n, Tensor[] in, boolean training) {
    Tensor data = in(n, in, 0);
    Tensor indices = in(n, in, 1);
    Tensor updates = in(n, in, 2);
    String reduction = n.s("reduction", "none");
    if (!reduction.equals("none") && !reduction.equals("add") && !reduction.equals("mul")) {
      throw n.error("unsupported reduction '" + reduction + "' (none, add and mul are supported)");
    }
    if (indices.dtype().isFPType() || indices.dtype() == DataType.BOOL) {
      throw n.error("indices must be integers, got " + indices.dtype());
    }
    if (updates.dtype() != data.dtype()) {
      throw n.error("data and updates must have one type, got " + data.dtype() + " and " + updates.dtype());
    }
    if (indices.rank() < 1) {
      throw n.error("indices must have rank >= 1, got a scalar");
    }
    long[] ds = data.shape();
    long[] is = indices.shape();
    int k = Math.toIntExact(is[is.length - 1]);
    if (k > ds.length) {
      throw n.error("indices' last dimension " + k + " exceeds the rank " + ds.length + " of data " + Shapes.str(ds));
    }
    long[] expected = new long[is.length - 1 + ds.length - k];
    System.arraycopy(is, 0, expected, 0, is.length - 1);
    System.arraycopy(ds, k, expected, is.length - 1, ds.length - k);
    if (!Arrays.equals(updates.shape(), expected)) {
      throw n.error("updates has shape " + Shapes.str(updates.shape()) + " but indices " + Shapes.str(is)
          + " into data " + Shapes.str(ds) + " need " + Shapes.str(expected));
    }
    long count = Shapes.numel(Arrays.copyOf(is, is.length - 1));
    long rows = Shapes.numel(Arrays.copyOf(ds, k));
    long slice = Shapes.numel(Arrays.copyOfRange(ds, k, ds.length));
    if (count > Integer.MAX_VALUE - 8) {
      throw n.error("indices hold " + count + " positions, more than a Java array");
    }
    long[] iv = Ints.values(indices);
    long[] row = new long[Math.toIntExact(count)];
    Set<Long> seen = new HashSet<>();
    boolean repeated = false;
    for (int i = 0; i < row.length; i++) {
      long r = 0;
      for (int j = 0; j < k; j++) {
        long v = iv[i * k + j];
        if (v < -ds[j] || v >= ds[j]) {
          throw n.error("index " + v + " (update " + i + ", component " + j + ") is out of range for size " + ds[j]);
        }
        r = r * ds[j] + (v < 0 ? v + ds[j] : v);
      }
      row[i] = r;
      repeated |= !seen.add(r);
    }
    if (repeated && reduction.equals("none")) {
      throw n.error("indices repeat a position: with reduction 'none' the result is undefined");
    }
    if (Ints.isInt(data)) {
      return one(scatterInts(data, updates, row, slice, reduction));
    }
    if (count == 0 || slice == 0) {
      return one(Tensor.of(data.data().dup('c')));
    }
    boolean mul = reduction.equals("mul");
    if (mul && repeated && Autograd.willRecord(data, updates)) {
      throw n.error("no gradient for reduction 'mul' with repeated indices; run it under GradMode.disabled()");
    }
    INDArray idx = Nd4j.createFromArray(row);
    INDArray u2 = updates.data().dup('c').reshape('c', count, slice);
    INDArray out = data.data().dup('c').reshape('c', rows, slice);
    scatter(reduction.equals("none") ? "scatter_upd" : reduction.equals("add") ? "scatter_add" : "scatter_mul", out,
        idx, u2);
    INDArray d2 = mul ? data.data().dup('c').reshape('c', rows, slice) : null;
    INDArray factor = null;   // "mul": the product of the updates at each position, 1 elsewhere
    if (mul) {
      factor = Nd4j.ones(data.dtype(), rows, slice);
      scatter("scatter_mul", factor, idx, u2);
    }
    INDArray dataFactor = factor;
    long[] us = updates.shape();
    return one(Autograd.record("scatternd_" + reduction, out.reshape('c', ds),
        Input.of(data, g -> {
          INDArray g2 = g.dup('c').reshape('c', rows, slice);
          if (reduction.equals("none")) {
            scatter("scatter_upd", g2, idx, Nd4j.zeros(g.dataType(), count, slice));
          } else if (dataFactor != null) {
            g2.muli(dataFactor);
          }
          return g2.reshape('c', ds);
        }),
        Input.of(updates, g -> {
          INDArray g2 = g.dup('c').reshape('c', rows, slice);
          INDArray picked = gatherRows(mul ? g2.mul(d2) : g2, idx, count, slice);
          return picked.reshape('c', us);
        })));
  }

  private static void scatter(String op, INDArray target, INDArray idx, INDArray rows) {
    Nd4j.exec(DynamicCustomOp.builder(op).addInputs(target, idx, rows).addOutputs(target).addBooleanArguments(true)
        .build());
  }

  private static INDArray gatherRows(INDArray x2, INDArray idx, long count, long slice) {
    INDArray out = Nd4j.create(x2.dataType(), count, slice);
    Nd4j.exec(DynamicCustomOp.builder("gather").addInputs(x2, idx).addOutputs(out).addIntegerArguments(0).build());
    return out;
  }

  private static Tensor scatterInts(Tensor data, Tensor updates, long[] row, long slice, String reduction) {
    Ints.checkSize("ScatterND", data.shape());
    long[] d = Ints.values(data);
    long[] u = Ints.values(updates);
    for (int i = 0; i < row.length; i++) {
      for (long q = 0; q < slice; q++) {
        int at = Math.toIntExact(row[i] * slice + q);
        long v = u[Math.toIntExact(i * slice + q)];
        d[at] = switch (reduction) {
          case "add" -> d[at] + v;
          case "mul" -> d[at] * v;
          default -> v;
        };
      }
    }
    return Ints.of(d, data.shape(), data.dtype());
  }
}
