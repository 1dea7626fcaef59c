package io.graft.core.ops;

import static io.graft.core.autograd.Autograd.record;

import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Broadcast;
import io.graft.core.autograd.Input;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Elementwise arithmetic with NumPy broadcasting. Each op computes its forward and, right below, one
 * vector–Jacobian product per input; broadcasting is undone by {@link Broadcast#sumTo} only.
 */
public final class ElementwiseOps {
  private ElementwiseOps() {}

  /** a + b. */
  public static Tensor add(Tensor a, Tensor b) {
    requireFloat("add", a);
    requireFloat("add", b);
    INDArray out = Broadcast.apply("add", "add", a.data(), b.data());
    return record("add", out,
        Input.of(a, g -> Broadcast.sumTo(g, a.shape())),   // d/da = g
        Input.of(b, g -> Broadcast.sumTo(g, b.shape())));  // d/db = g
  }

  /** a - b. */
  public static Tensor sub(Tensor a, Tensor b) {
    requireFloat("sub", a);
    requireFloat("sub", b);
    INDArray out = Broadcast.apply("sub", "subtract", a.data(), b.data());
    return record("sub", out,
        Input.of(a, g -> Broadcast.sumTo(g, a.shape())),          // d/da = g
        Input.of(b, g -> Broadcast.sumTo(g, b.shape()).neg()));   // d/db = -g
  }

  /** a * b. */
  public static Tensor mul(Tensor a, Tensor b) {
    requireFloat("mul", a);
    requireFloat("mul", b);
    INDArray av = a.data();
    INDArray bv = b.data();
    INDArray out = Broadcast.apply("mul", "multiply", av, bv);
    return record("mul", out,
        Input.of(a, g -> Broadcast.sumTo(Broadcast.apply("mul", "multiply", g, bv), a.shape())),   // g * b
        Input.of(b, g -> Broadcast.sumTo(Broadcast.apply("mul", "multiply", g, av), b.shape())));  // g * a
  }

  /** a / b (floating point: integer division by zero would kill the JVM in libnd4j). */
  public static Tensor div(Tensor a, Tensor b) {
    requireFloat("div", a);
    requireFloat("div", b);
    INDArray av = a.data();
    INDArray bv = b.data();
    INDArray out = Broadcast.apply("div", "divide", av, bv);
    return record("div", out,
        Input.of(a, g -> Broadcast.sumTo(Broadcast.apply("div", "divide", g, bv), a.shape())),  // g / b
        Input.of(b, g -> Broadcast.sumTo(                                                       // -g * a / b^2
            Broadcast.apply("div", "divide", Broadcast.apply("div", "multiply", g, out), bv).negi(), b.shape())));
  }

  /** a + s. */
  public static Tensor add(Tensor a, double s) {
    requireFloat("add", a);
    if (a.numel() == 0) {
      return empty("add", a);
    }
    return record("add_scalar", scalarOp(a.data(), s, true), Input.of(a, g -> g));  // d/da = g
  }

  /** a * s. */
  public static Tensor mul(Tensor a, double s) {
    requireFloat("mul", a);
    if (a.numel() == 0) {
      return empty("mul", a);
    }
    return record("mul_scalar", scalarOp(a.data(), s, false), Input.of(a, g -> scalarOp(g, s, false)));  // g * s
  }

  /** -a. */
  public static Tensor neg(Tensor a) {
    requireFloat("neg", a);
    if (a.numel() == 0) {
      return empty("neg", a);
    }
    return record("neg", a.data().neg(), Input.of(a, INDArray::neg));  // d/da = -g
  }

  /** a^p for a scalar exponent. */
  public static Tensor pow(Tensor a, double p) {
    requireFloat("pow", a);
    if (a.numel() == 0) {
      return empty("pow", a);
    }
    INDArray av = a.data();
    INDArray out = Transforms.pow(av, p, true);
    return record("pow", out,
        Input.of(a, g -> p == 0 ? g.mul(0) : g.mul(Transforms.pow(av, p - 1, true)).muli(p)));  // g * p * a^(p-1)
  }

  /** e^a. */
  public static Tensor exp(Tensor a) {
    requireFloat("exp", a);
    if (a.numel() == 0) {
      return empty("exp", a);
    }
    INDArray out = Transforms.exp(a.data(), true);
    return record("exp", out, Input.of(a, g -> g.mul(out)));  // d/da = g * e^a
  }

  /** ln a. */
  public static Tensor log(Tensor a) {
    requireFloat("log", a);
    if (a.numel() == 0) {
      return empty("log", a);
    }
    INDArray av = a.data();
    return record("log", Transforms.log(av, true), Input.of(a, g -> g.div(av)));  // d/da = g / a
  }

  /** sqrt a. */
  public static Tensor sqrt(Tensor a) {
    requireFloat("sqrt", a);
    if (a.numel() == 0) {
      return empty("sqrt", a);
    }
    INDArray out = Transforms.sqrt(a.data(), true);
    return record("sqrt", out, Input.of(a, g -> g.div(out).muli(0.5)));  // d/da = g / (2 sqrt a)
  }

  /** |a|; the gradient at 0 is 0, as in PyTorch. */
  public static Tensor abs(Tensor a) {
    requireFloat("abs", a);
    if (a.numel() == 0) {
      return empty("abs", a);
    }
    INDArray av = a.data();
    return record("abs", Transforms.abs(av, true), Input.of(a, g -> g.mul(Transforms.sign(av, true))));  // g*sgn(a)
  }

  /**
   * min(max(a, lo), hi); pass {@code Double.NEGATIVE_INFINITY} / {@code POSITIVE_INFINITY} for a missing bound.
   * The gradient flows where lo &lt;= a &lt;= hi (PyTorch's clamp).
   */
  public static Tensor clamp(Tensor a, double lo, double hi) {
    requireFloat("clamp", a);
    if (a.numel() == 0) {
      return empty("clamp", a);
    }
    if (lo > hi) {
      throw new io.graft.core.GraftException("clamp: min " + lo + " > max " + hi);
    }
    INDArray av = a.data();
    INDArray out = av.dup();
    if (lo != Double.NEGATIVE_INFINITY) {
      Transforms.max(out, lo, false);
    }
    if (hi != Double.POSITIVE_INFINITY) {
      Transforms.min(out, hi, false);
    }
    return record("clamp", out, Input.of(a, g -> {   // d/da = g where lo <= a <= hi
      INDArray mask = av.gte(lo).castTo(av.dataType()).muli(av.lte(hi).castTo(av.dataType()));
      return g.mul(mask);
    }));
  }

  /** Conversion between dtypes; differentiable between floating types. */
  public static Tensor cast(Tensor a, DataType dtype) {
    if (a.dtype() == dtype) {
      return a;
    }
    DataType from = a.dtype();
    INDArray out = a.data().castTo(dtype);
    if (!dtype.isFPType()) {
      return Tensor.of(out);
    }
    return record("cast", out, Input.of(a, g -> g.castTo(from)));  // d/da = g (in a's dtype)
  }

  private static void requireFloat(String op, Tensor a) {
    Shapes.requireFloat(op, "input", a);
  }

  /**
   * {@code x + s} or {@code x * s}. ND4J's scalar ops silently replace a NaN scalar (x * NaN gives 1e-5 · x), so a
   * NaN goes through a broadcast with a one-element array instead, giving NaN as in PyTorch.
   */
  static INDArray scalarOp(INDArray x, double s, boolean add) {
    if (Double.isNaN(s)) {
      INDArray t = org.nd4j.linalg.factory.Nd4j.scalar(x.dataType(), s);
      return add ? x.add(t) : x.mul(t);
    }
    return add ? x.add(s) : x.mul(s);
  }

  /** The result of an elementwise op on an empty tensor: empty, same shape and dtype (ND4J refuses empty arrays). */
  static Tensor empty(String op, Tensor a) {
    return record(op, org.nd4j.linalg.factory.Nd4j.create(a.dtype(), a.shape()), Input.of(a, g -> g));
  }
}
