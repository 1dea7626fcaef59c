package io.graft.zoo.onnx;

import static io.graft.zoo.onnx.Operators.axes;
import static io.graft.zoo.onnx.Operators.axis;
import static io.graft.zoo.onnx.Operators.in;
import static io.graft.zoo.onnx.Operators.one;
import static io.graft.zoo.onnx.Operators.opt;
import static io.graft.zoo.onnx.Operators.scalar;

import io.graft.core.Tensor;
import io.graft.core.ops.ActivationOps;
import io.graft.core.ops.ElementwiseOps;
import io.graft.core.ops.LinalgOps;
import io.graft.core.ops.ReductionOps;
import io.graft.core.ops.ShapeOps;
import java.util.Map;
import java.util.function.BinaryOperator;
import java.util.function.LongBinaryOperator;
import java.util.function.UnaryOperator;

/** Elementwise arithmetic, activations, reductions and matrix products. */
final class MathOperators {
  private MathOperators() {}

  static void register(Map<String, OnnxOp> ops) {
    ops.put("Add", binary(ElementwiseOps::add, Math::addExact));
    ops.put("Sub", binary(ElementwiseOps::sub, Math::subtractExact));
    ops.put("Mul", binary(ElementwiseOps::mul, Math::multiplyExact));
    ops.put("Div", binary(ElementwiseOps::div, MathOperators::intDiv));
    ops.put("Pow", MathOperators::pow);
    ops.put("Mod", MathOperators::mod);
    ops.put("Not", MathOperators::not);
    ops.put("Neg", unary(ElementwiseOps::neg));
    ops.put("Abs", unary(ElementwiseOps::abs));
    ops.put("Sqrt", unary(ElementwiseOps::sqrt));
    ops.put("Exp", unary(ElementwiseOps::exp));
    ops.put("Log", unary(ElementwiseOps::log));
    ops.put("Relu", unary(ActivationOps::relu));
    ops.put("Sigmoid", unary(ActivationOps::sigmoid));
    ops.put("Tanh", unary(ActivationOps::tanh));
    ops.put("LeakyRelu", (n, in, t) -> one(ActivationOps.leakyRelu(in(n, in, 0), n.f("alpha", 0.01f))));
    ops.put("PRelu", MathOperators::prelu);
    ops.put("Elu", (n, in, t) -> one(elu(in(n, in, 0), n.f("alpha", 1f))));
    ops.put("Selu", (n, in, t) -> one(ElementwiseOps.mul(elu(in(n, in, 0),
        n.f("alpha", 1.67326319217681884765625f)), n.f("gamma", 1.05070102214813232421875f))));
    ops.put("Softplus", unary(MathOperators::softplus));
    ops.put("Softsign", unary(x -> ElementwiseOps.div(x, ElementwiseOps.add(ElementwiseOps.abs(x), 1))));
    ops.put("HardSigmoid", (n, in, t) -> one(hardSigmoid(in(n, in, 0), n.f("alpha", 0.2f), n.f("beta", 0.5f))));
    ops.put("HardSwish", unary(x -> ElementwiseOps.mul(x, hardSigmoid(x, 1 / 6f, 0.5f))));
    ops.put("Clip", MathOperators::clip);
    ops.put("Softmax", (n, in, t) -> one(softmax(n, in(n, in, 0), false)));
    ops.put("LogSoftmax", (n, in, t) -> one(softmax(n, in(n, in, 0), true)));
    ops.put("Max", variadic(MathOperators::maximum));
    ops.put("Min", variadic(MathOperators::minimum));
    ops.put("Sum", variadic(ElementwiseOps::add));
    ops.put("Mean", (n, in, t) -> one(ElementwiseOps.mul(variadic(ElementwiseOps::add).run(n, in, t)[0],
        1.0 / in.length)));
    ops.put("ReduceMean", (n, in, t) -> one(reduce(n, in, ReductionOps::mean)));
    ops.put("ReduceSum", (n, in, t) -> one(reduce(n, in, ReductionOps::sum)));
    ops.put("ReduceMax", (n, in, t) -> one(reduce(n, in, ReductionOps::max)));
    ops.put("ReduceMin", (n, in, t) -> one(reduce(n, in, ReductionOps::min)));
    ops.put("MatMul", (n, in, t) -> one(LinalgOps.matmul(in(n, in, 0), in(n, in, 1))));
    ops.put("Gemm", MathOperators::gemm);
  }

  private static OnnxOp unary(UnaryOperator<Tensor> f) {
    return (n, in, t) -> one(f.apply(in(n, in, 0)));
  }

  private static long intDiv(long a, long b) {
    if (b == 0) {
      throw new io.graft.core.GraftException("integer division by zero");
    }
    return a / b;
  }

  /**
   * A broadcasting binary op. Floating point runs the differentiable Graft op; integers (shape arithmetic) run
   * in Java. Before opset 7, broadcasting was opt-in ({@code broadcast=1}) and aligned B at {@code axis}.
   */
  private static OnnxOp binary(BinaryOperator<Tensor> f, LongBinaryOperator ints) {
    return (n, in, t) -> {
      Tensor a = in(n, in, 0);
      Tensor b = legacyBroadcast(n, a, in(n, in, 1));
      if (Ints.isInt(a) && Ints.isInt(b)) {
        return one(Ints.binary(n.opType(), a, b, a.dtype(), ints));
      }
      return one(f.apply(a, b));
    };
  }

  static Tensor legacyBroadcast(OnnxNode n, Tensor a, Tensor b) {
    if (n.opset() >= 7 || n.i("broadcast", 0) == 0 || b.rank() == a.rank()) {
      return b;
    }
    int ax = n.has("axis") ? axis(n, n.i("axis", 0), a.rank()) : a.rank() - b.rank();
    if (ax + b.rank() > a.rank()) {
      throw n.error("cannot broadcast B of rank " + b.rank() + " at axis " + ax + " of A of rank " + a.rank());
    }
    long[] shape = new long[a.rank()];
    java.util.Arrays.fill(shape, 1);
    System.arraycopy(b.shape(), 0, shape, ax, b.rank());
    return ShapeOps.reshape(b, shape);
  }

  private static OnnxOp variadic(BinaryOperator<Tensor> f) {
    return (n, in, t) -> {
      Tensor acc = in(n, in, 0);
      for (int k = 1; k < in.length; k++) {
        acc = f.apply(acc, in(n, in, k));
      }
      return one(acc);
    };
  }

  /** Elementwise max(a, b), broadcast; the gradient goes to the selected input (to a at ties). */
  static Tensor maximum(Tensor a, Tensor b) {
    if (Ints.isInt(a) && Ints.isInt(b)) {
      return Ints.binary("Max", a, b, a.dtype(), Math::max);
    }
    return select(a, b, true);
  }

  static Tensor minimum(Tensor a, Tensor b) {
    if (Ints.isInt(a) && Ints.isInt(b)) {
      return Ints.binary("Min", a, b, a.dtype(), Math::min);
    }
    return select(a, b, false);
  }

  /**
   * The elementwise max/min of a and b (broadcast): exact values from libnd4j, the gradient to the selected input
   * (to a at ties), so infinities pass through unharmed.
   */
  private static Tensor select(Tensor a, Tensor b, boolean max) {
    long[] shape = io.graft.core.autograd.Broadcast.shape(max ? "Max" : "Min", a.shape(), b.shape());
    Tensor ae = ShapeOps.expand(a, shape);
    Tensor be = ShapeOps.expand(b, shape);
    org.nd4j.linalg.api.ndarray.INDArray av = ae.data();
    org.nd4j.linalg.api.ndarray.INDArray bv = be.data();
    if (ae.numel() == 0) {
      return ae;
    }
    org.nd4j.linalg.api.ndarray.INDArray out = max ? org.nd4j.linalg.ops.transforms.Transforms.max(av, bv, true)
        : org.nd4j.linalg.ops.transforms.Transforms.min(av, bv, true);
    org.nd4j.linalg.api.ndarray.INDArray diff = av.sub(bv);   // mask only: NaN (inf - inf, a tie) gives b the gradient
    org.nd4j.linalg.api.ndarray.INDArray takeA = (max ? diff.gte(0) : diff.lte(0)).castTo(av.dataType());
    return io.graft.core.autograd.Autograd.record(max ? "max" : "min", out,
        io.graft.core.autograd.Input.of(ae, g -> g.mul(takeA)),              // g where a was taken
        io.graft.core.autograd.Input.of(be, g -> g.mul(takeA.rsub(1))));     // g elsewhere
  }

  private static Tensor[] pow(OnnxNode n, Tensor[] in, boolean training) {
    Tensor a = in(n, in, 0);
    Tensor b = legacyBroadcast(n, a, in(n, in, 1));
    if (Ints.isInt(a)) {   // integer base: computed exactly in Java, result in the base's type
      return one(Ints.pow(a, b));
    }
    if (b.numel() == 1) {   // a scalar exponent (x^2, x^0.5, ...): an ordinary power for every base
      Tensor r = ElementwiseOps.pow(a, b.data().getDouble(0));
      return one(b.rank() > a.rank() ? ShapeOps.reshape(r, io.graft.core.autograd.Broadcast.shape("Pow",
          a.shape(), b.shape())) : r);
    }
    Tensor bf = b.dtype() == a.dtype() ? b : TensorOperators.cast(b, a.dtype());
    return one(ElementwiseOps.exp(ElementwiseOps.mul(bf, ElementwiseOps.log(a))));   // a^b for a > 0
  }

  /**
   * Mod (opset 13): the remainder of A / B, broadcast. Integers are computed exactly in Java: with {@code fmod=0}
   * (the default) the remainder takes the divisor's sign (Python's {@code %}, {@code Math.floorMod}), with
   * {@code fmod=1} the dividend's (C's {@code fmod}); a zero divisor is refused. Floating point requires {@code
   * fmod=1} (as ONNX does) and is C's fmod, exact (Java's {@code %}); its gradient is g to A and -g·trunc(A / B) to
   * B (both summed back to their shapes).
   */
  private static Tensor[] mod(OnnxNode n, Tensor[] in, boolean training) {
    Tensor a = in(n, in, 0);
    Tensor b = in(n, in, 1);
    if (a.dtype() != b.dtype()) {
      throw n.error("A and B must have one type, got " + a.dtype() + " and " + b.dtype());
    }
    if (a.dtype() == org.nd4j.linalg.api.buffer.DataType.BOOL) {
      throw n.error("A and B must be numbers, got BOOL");
    }
    long fmod = n.i("fmod", 0);
    if (fmod != 0 && fmod != 1) {
      throw n.error("fmod must be 0 or 1, got " + fmod);
    }
    if (Ints.isInt(a)) {
      for (long v : Ints.values(b)) {
        if (v == 0) {
          throw n.error("integer Mod by zero");
        }
      }
      return one(Ints.binary("Mod", a, b, a.dtype(), fmod == 1 ? (x, y) -> x % y : Math::floorMod));
    }
    if (fmod != 1) {
      throw n.error("floating-point Mod needs fmod=1 (ONNX leaves fmod=0 undefined for floats), got " + a.dtype());
    }
    long[] shape = io.graft.core.autograd.Broadcast.shape("Mod", a.shape(), b.shape());
    io.graft.core.Shapes.checkNew("Mod", shape);
    if (io.graft.core.Shapes.numel(shape) == 0) {
      return one(Tensor.of(org.nd4j.linalg.factory.Nd4j.create(a.dtype(), shape)));
    }
    org.nd4j.linalg.api.ndarray.INDArray ab = io.graft.core.autograd.Broadcast.to(a.data(), shape).dup('c');
    org.nd4j.linalg.api.ndarray.INDArray bb = io.graft.core.autograd.Broadcast.to(b.data(), shape).dup('c');
    long count = io.graft.core.Shapes.numel(shape);
    double[] av = ab.reshape(count).toDoubleVector();
    double[] bv = bb.reshape(count).toDoubleVector();
    double[] r = new double[av.length];
    double[] q = new double[av.length];   // trunc(a / b), for B's gradient
    boolean single = a.dtype() != org.nd4j.linalg.api.buffer.DataType.DOUBLE;
    for (int k = 0; k < r.length; k++) {
      r[k] = single ? (float) av[k] % (float) bv[k] : av[k] % bv[k];
      q[k] = Math.rint((av[k] - r[k]) / bv[k]);
    }
    org.nd4j.linalg.api.ndarray.INDArray out = org.nd4j.linalg.factory.Nd4j.createFromArray(r).reshape('c', shape)
        .castTo(a.dtype());
    org.nd4j.linalg.api.ndarray.INDArray quot = org.nd4j.linalg.factory.Nd4j.createFromArray(q).reshape('c', shape)
        .castTo(a.dtype());
    long[] as = a.shape();
    long[] bs = b.shape();
    return one(io.graft.core.autograd.Autograd.record("mod", out,
        io.graft.core.autograd.Input.of(a, g -> io.graft.core.autograd.Broadcast.sumTo(g, as)),
        io.graft.core.autograd.Input.of(b, g -> io.graft.core.autograd.Broadcast.sumTo(g.mul(quot).negi(), bs))));
  }

  /** Not (opset 1): logical negation of a bool tensor (no gradient). */
  private static Tensor[] not(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    if (x.dtype() != org.nd4j.linalg.api.buffer.DataType.BOOL) {
      throw n.error("X must be a bool tensor, got " + x.dtype());
    }
    if (x.numel() == 0) {
      return one(x);
    }
    return one(Tensor.of(x.data().castTo(org.nd4j.linalg.api.buffer.DataType.INT).eq(0)));
  }

  private static Tensor[] prelu(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    Tensor slope = in(n, in, 1);
    if (slope.rank() == 1 && x.rank() > 2 && slope.shape()[0] == x.shape()[1] && slope.shape()[0] != 1
        && x.shape()[x.rank() - 1] != slope.shape()[0]) {
      long[] s = new long[x.rank() - 1];   // legacy per-channel slope [C] (not broadcastable): as [C, 1, ...]
      java.util.Arrays.fill(s, 1);
      s[0] = slope.shape()[0];
      slope = ShapeOps.reshape(slope, s);
    }
    // prelu(x) = relu(x) - slope * relu(-x)
    return one(ElementwiseOps.sub(ActivationOps.relu(x),
        ElementwiseOps.mul(slope, ActivationOps.relu(ElementwiseOps.neg(x)))));
  }

  /** elu(x) = relu(x) + alpha * (exp(min(x, 0)) - 1). */
  static Tensor elu(Tensor x, double alpha) {
    Tensor negPart = ElementwiseOps.neg(ActivationOps.relu(ElementwiseOps.neg(x)));
    return ElementwiseOps.add(ActivationOps.relu(x), ElementwiseOps.mul(ElementwiseOps.add(
        ElementwiseOps.exp(negPart), -1), alpha));
  }

  /** softplus(x) = relu(x) + log(1 + exp(-|x|)), stable for large |x|. */
  static Tensor softplus(Tensor x) {
    return ElementwiseOps.add(ActivationOps.relu(x), ElementwiseOps.log(ElementwiseOps.add(
        ElementwiseOps.exp(ElementwiseOps.neg(ElementwiseOps.abs(x))), 1)));
  }

  static Tensor hardSigmoid(Tensor x, double alpha, double beta) {
    return ElementwiseOps.clamp(ElementwiseOps.add(ElementwiseOps.mul(x, alpha), beta), 0, 1);
  }

  private static Tensor[] clip(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    double lo;
    double hi;
    if (n.opset() < 11) {
      lo = n.f("min", -Float.MAX_VALUE);
      hi = n.f("max", Float.MAX_VALUE);
    } else {
      lo = opt(in, 1) == null ? Double.NEGATIVE_INFINITY : scalar(n, in[1], "min");
      hi = opt(in, 2) == null ? Double.POSITIVE_INFINITY : scalar(n, in[2], "max");
    }
    if (Ints.isInt(x)) {
      long l = (long) Math.max(lo, Long.MIN_VALUE);
      long h = (long) Math.min(hi, Long.MAX_VALUE);
      return one(Ints.binary("Clip", x, x, x.dtype(), (a, b) -> Math.min(Math.max(a, l), h)));
    }
    if (lo > hi) {   // ONNX: min > max sets every value to max
      return one(ElementwiseOps.add(ElementwiseOps.mul(x, 0), hi));
    }
    return one(ElementwiseOps.clamp(x, lo, hi));
  }

  /** Softmax / LogSoftmax; before opset 13 the input is coerced to 2-D at {@code axis} (default 1). */
  private static Tensor softmax(OnnxNode n, Tensor x, boolean log) {
    int r = x.rank();
    if (n.opset() >= 13) {
      int ax = axis(n, n.i("axis", -1), r);
      return log ? ActivationOps.logSoftmax(x, ax) : ActivationOps.softmax(x, ax);
    }
    int ax = axis(n, n.i("axis", 1), r);
    long[] s = x.shape();
    long rows = 1;
    for (int k = 0; k < ax; k++) {
      rows *= s[k];
    }
    long cols = x.numel() / Math.max(rows, 1);
    Tensor flat = ShapeOps.reshape(x, rows, cols);
    Tensor y = log ? ActivationOps.logSoftmax(flat, 1) : ActivationOps.softmax(flat, 1);
    return ShapeOps.reshape(y, s);
  }

  interface Reducer {
    Tensor apply(Tensor x, boolean keepDim, int... dims);
  }

  /** Reduce*: axes from the attribute, or (ReduceSum from opset 13) the second input; none means all. */
  private static Tensor reduce(OnnxNode n, Tensor[] in, Reducer f) {
    Tensor x = in(n, in, 0);
    boolean keep = n.i("keepdims", 1) != 0;
    long[] ax = n.ints("axes", null);
    if (opt(in, 1) != null) {
      ax = Operators.ints(n, in[1], "axes");
    }
    if (ax == null || ax.length == 0) {
      if (n.i("noop_with_empty_axes", 0) != 0) {
        return x;
      }
      ax = new long[x.rank()];
      for (int k = 0; k < ax.length; k++) {
        ax[k] = k;
      }
    }
    if (x.rank() == 0) {
      return x;
    }
    return f.apply(x, keep, axes(n, ax, x.rank()));
  }

  /** Y = alpha * A' B' + beta * C, A' = transA ? Aᵀ : A. */
  private static Tensor[] gemm(OnnxNode n, Tensor[] in, boolean training) {
    Tensor a = in(n, in, 0);
    Tensor b = in(n, in, 1);
    if (a.rank() != 2 || b.rank() != 2) {
      throw n.error("Gemm needs 2-D A and B, got " + io.graft.core.Shapes.str(a.shape()) + " and "
          + io.graft.core.Shapes.str(b.shape()));
    }
    if (n.i("transA", 0) != 0) {
      a = ShapeOps.transpose(a, 0, 1);
    }
    if (n.i("transB", 0) != 0) {
      b = ShapeOps.transpose(b, 0, 1);
    }
    Tensor y = LinalgOps.matmul(a, b);
    double alpha = n.f("alpha", 1f);
    if (alpha != 1) {
      y = ElementwiseOps.mul(y, alpha);
    }
    Tensor c = opt(in, 2);
    if (c != null) {
      double beta = n.f("beta", 1f);
      y = ElementwiseOps.add(y, beta == 1 ? c : ElementwiseOps.mul(c, beta));
    }
    return one(y);
  }
}
