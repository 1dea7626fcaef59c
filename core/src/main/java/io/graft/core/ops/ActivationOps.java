package io.graft.core.ops;

import static io.graft.core.autograd.Autograd.record;

import io.graft.core.Layout;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Autograd;
import io.graft.core.autograd.Input;
import io.graft.core.backend.Activation;
import io.graft.core.backend.Backends;
import io.graft.core.backend.Kernels;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.scalar.RectifiedLinear;
import org.nd4j.linalg.api.ops.impl.transforms.comparison.CompareAndSet;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Erf;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.BooleanIndexing;
import org.nd4j.linalg.indexing.conditions.Conditions;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Pointwise activations (forward and backward together) and the softmax family (composed from primitives).
 */
public final class ActivationOps {
  private static final double SQRT_HALF = Math.sqrt(0.5);
  private static final double INV_SQRT_2PI = 1.0 / Math.sqrt(2 * Math.PI);
  private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
  private static final double GELU_A = 0.044715;

  private ActivationOps() {}

  /** max(x, 0); gradient 0 at x = 0 (PyTorch's threshold_backward). */
  public static Tensor relu(Tensor x) {
    check("relu", x);
    if (x.numel() == 0) {
      return ElementwiseOps.empty("relu", x);
    }
    INDArray xv = x.data();
    // not oneDNN's eltwise ReLU: it turns NaN into 0 forward and gives NaN where PyTorch's threshold_backward gives
    // 0. The output keeps x's layout; a dense x runs as one flat vector through libnd4j's legacy scalar RELU
    // (x < 0 ? 0 : x, so NaN stays NaN). Timings: docs/benchmarks.md, "History moved from code comments"
    INDArray out = Layout.uninitializedLike(xv, xv.dataType());
    boolean dense = Layout.order(xv) != null;
    Nd4j.exec(new RectifiedLinear(dense ? Layout.flat(xv) : xv, dense ? Layout.flat(out) : out, 0.0));
    // backward from the output, as PyTorch's threshold_backward(g, result, 0): g where y > 0 or y is NaN, else 0
    // (never g * mask, which gives NaN for an infinite g). The node holds y, which whatever reads it next (a
    // convolution) keeps anyway, not x; one pass, not libnd4j's relu_bp.
    return record("relu", out, Input.of(x, g -> {
      INDArray gx = Layout.uninitializedLike(out, g.dataType());
      boolean flat = Layout.sameDense(out, g);
      // CompareAndSet(x, y, z, cond): z = cond(y) ? y : x, so z = g where y > 0 (or NaN) and z = y = 0 elsewhere
      Nd4j.exec(new CompareAndSet(flat ? Layout.flat(g) : g, flat ? Layout.flat(out) : out, flat ? Layout.flat(gx) : gx,
          Conditions.lessThanOrEqual(0)));
      return gx;
    }));
  }

  /** min(max(x, 0), 6); gradient where 0 &lt; x &lt; 6 (PyTorch's hardtanh_backward). */
  public static Tensor relu6(Tensor x) {
    check("relu6", x);
    if (x.numel() == 0) {
      return ElementwiseOps.empty("relu6", x);
    }
    INDArray xv = x.data();
    INDArray out = Transforms.min(Transforms.relu(xv, true), 6.0, false);
    return record("relu6", out, Input.of(x, g ->    // g * [0 < x < 6]
        g.mul(xv.gt(0).castTo(xv.dataType()).muli(xv.lt(6).castTo(xv.dataType())))));
  }

  /** x if x &gt; 0 else slope * x. */
  public static Tensor leakyRelu(Tensor x, double slope) {
    check("leaky_relu", x);
    if (x.numel() == 0) {
      return ElementwiseOps.empty("leaky_relu", x);
    }
    INDArray xv = x.data();
    INDArray pos = xv.gt(0).castTo(xv.dataType());
    // factor = [x > 0] + slope * [x <= 0] = pos * (1 - slope) + slope
    INDArray factor = pos.mul(1 - slope).addi(slope);
    return record("leaky_relu", xv.mul(factor), Input.of(x, g -> g.mul(factor)));  // g * factor
  }

  /** Exact GELU: x * Φ(x) = 0.5 x (1 + erf(x / √2)) (PyTorch's default, approximate='none'). */
  public static Tensor gelu(Tensor x) {
    check("gelu", x);
    if (x.numel() == 0) {
      return ElementwiseOps.empty("gelu", x);
    }
    INDArray xv = x.data();
    INDArray cdf = Nd4j.exec(new Erf(xv.mul(SQRT_HALF))).addi(1).muli(0.5);  // Φ(x)
    return record("gelu", xv.mul(cdf), Input.of(x, g -> {
      // d/dx = Φ(x) + x φ(x),  φ(x) = exp(-x²/2) / √(2π)
      INDArray pdf = Transforms.exp(xv.mul(xv).muli(-0.5), false).muli(INV_SQRT_2PI);
      return g.mul(pdf.muli(xv).addi(cdf));
    }));
  }

  /** The error function erf(x) (torch.erf; ONNX Erf); d/dx = 2/√π exp(-x²). */
  public static Tensor erf(Tensor x) {
    check("erf", x);
    if (x.numel() == 0) {
      return ElementwiseOps.empty("erf", x);
    }
    INDArray xv = x.data();
    return record("erf", Nd4j.exec(new Erf(xv.dup())), Input.of(x, g ->
        g.mul(Transforms.exp(xv.mul(xv).negi(), false).muli(2 / Math.sqrt(Math.PI)))));
  }

  /**
   * GELU's tanh approximation (PyTorch's {@code approximate='tanh'}): 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))).
   */
  public static Tensor geluTanh(Tensor x) {
    check("gelu", x);
    if (x.numel() == 0) {
      return ElementwiseOps.empty("gelu", x);
    }
    INDArray xv = x.data();
    INDArray x2 = xv.mul(xv);
    INDArray t = Transforms.tanh(x2.mul(GELU_A).addi(1).muli(xv).muli(SQRT_2_OVER_PI), false);  // tanh(u)
    INDArray half1pt = t.add(1).muli(0.5);
    return record("gelu", xv.mul(half1pt), Input.of(x, g -> {
      // d/dx = 0.5 (1 + t) + 0.5 x (1 - t²) √(2/π) (1 + 3 a x²)
      INDArray du = x2.mul(3 * GELU_A).addi(1).muli(SQRT_2_OVER_PI);
      INDArray d = t.mul(t).rsubi(1).muli(du).muli(xv).muli(0.5).addi(half1pt);
      return g.mul(d);
    }));
  }

  /** x * sigmoid(x). */
  public static Tensor silu(Tensor x) {
    check("silu", x);
    if (x.numel() == 0) {
      return ElementwiseOps.empty("silu", x);
    }
    INDArray xv = x.data();
    // float32 dense input: one oneDNN pass each way, the output laid out like x (a channels_last activation between
    // two convolutions stays channels_last); else ND4J's transforms below
    boolean grad = Autograd.willRecord(x);
    Kernels k = Backends.activation(Activation.SILU, xv, grad);
    if (k != null) {
      INDArray y = k.activation(Activation.SILU, xv, grad);
      return record("silu", y, Input.of(x, g -> k.activationBackward(Activation.SILU, xv, y, g)));
    }
    INDArray s = Transforms.sigmoid(xv, true);
    return record("silu", xv.mul(s), Input.of(x, g -> {
      // d/dx = s (1 + x (1 - s))
      INDArray d = s.rsub(1).muli(xv).addi(1).muli(s);
      return g.mul(d);
    }));
  }

  /** 1 / (1 + e^-x). */
  public static Tensor sigmoid(Tensor x) {
    check("sigmoid", x);
    if (x.numel() == 0) {
      return ElementwiseOps.empty("sigmoid", x);
    }
    INDArray xv = x.data();
    boolean grad = Autograd.willRecord(x);
    Kernels k = Backends.activation(Activation.SIGMOID, xv, grad);   // as silu: oneDNN for float32 dense input
    if (k != null) {
      INDArray y = k.activation(Activation.SIGMOID, xv, grad);
      return record("sigmoid", y, Input.of(x, g -> k.activationBackward(Activation.SIGMOID, xv, y, g)));
    }
    INDArray out = Transforms.sigmoid(xv, true);
    return record("sigmoid", out, Input.of(x, g -> g.mul(out.rsub(1).muli(out))));  // g * s (1 - s)
  }

  /** tanh x. */
  public static Tensor tanh(Tensor x) {
    check("tanh", x);
    if (x.numel() == 0) {
      return ElementwiseOps.empty("tanh", x);
    }
    INDArray out = Transforms.tanh(x.data(), true);
    return record("tanh", out, Input.of(x, g -> g.mul(out.mul(out).rsubi(1))));  // g * (1 - t²)
  }

  /** exp(x) / sum(exp(x)) along {@code dim}; composed, with the max subtracted for stability. */
  public static Tensor softmax(Tensor x, int dim) {
    check("softmax", x);
    if (x.numel() == 0) {
      return ElementwiseOps.empty("softmax", x);
    }
    if (x.rank() == 0) {
      Shapes.dim("softmax", dim, 0);
      return ShapeOps.reshape(softmax(ShapeOps.reshape(x, 1), 0));
    }
    Tensor e = ElementwiseOps.exp(ElementwiseOps.sub(x, ReductionOps.max(x.detach(), true, dim)));
    return ElementwiseOps.div(e, ReductionOps.sum(e, true, dim));
  }

  /** x - logsumexp(x) along {@code dim}; composed, with the max subtracted for stability. */
  public static Tensor logSoftmax(Tensor x, int dim) {
    check("log_softmax", x);
    if (x.numel() == 0) {
      return ElementwiseOps.empty("log_softmax", x);
    }
    if (x.rank() == 0) {
      Shapes.dim("log_softmax", dim, 0);
      return ShapeOps.reshape(logSoftmax(ShapeOps.reshape(x, 1), 0));
    }
    Tensor z = ElementwiseOps.sub(x, ReductionOps.max(x.detach(), true, dim));
    Tensor lse = ElementwiseOps.log(ReductionOps.sum(ElementwiseOps.exp(z), true, dim));
    return ElementwiseOps.sub(z, lse);
  }

  private static void check(String op, Tensor x) {
    Shapes.requireFloat(op, "input", x);
  }

  /**
   * x · relu6(x + 3) / 6 (MobileNetV3's activation); gradient 0 below -3, x / 3 + 1/2 on [-3, 3], 1 above 3 (PyTorch's
   * hardswish_backward, which takes the middle branch at both ends).
   */
  public static Tensor hardswish(Tensor x) {
    check("hardswish", x);
    if (x.numel() == 0) {
      return ElementwiseOps.empty("hardswish", x);
    }
    INDArray xv = x.data();
    INDArray out = xv.mul(Transforms.min(Transforms.max(xv.add(3.0), 0.0, false), 6.0, false)).divi(6.0);
    return record("hardswish", out, Input.of(x, g -> {
      DataType t = xv.dataType();
      // factor = x / 3 + 1/2 on [-3, 3], 1 above 3 and at NaN (PyTorch's last branch), built from x clamped to
      // [-3, 3] so that no infinity meets a 0 mask; then exactly 0 below -3, whatever g is (a select, not g * 0)
      INDArray xc = Transforms.min(Transforms.max(xv, -3.0, true), 3.0, false);
      BooleanIndexing.replaceWhere(xc, 0.0, Conditions.isNan());
      INDArray mid = xv.gte(-3.0).castTo(t).muli(xv.lte(3.0).castTo(t));
      INDArray factor = xc.divi(3.0).addi(0.5).muli(mid).addi(mid.rsub(1.0));
      INDArray gx = g.mul(factor);
      INDArray keep = xv.lt(-3.0).castTo(t).rsubi(1.0);   // 0 below -3, else 1
      Nd4j.exec(new CompareAndSet(gx, keep, gx, Conditions.lessThanOrEqual(0)));
      return gx;
    }));
  }

  /**
   * relu6(x + 3) / 6; gradient 1/6 strictly inside (-3, 3), else 0 (PyTorch's hardsigmoid_backward).
   */
  public static Tensor hardsigmoid(Tensor x) {
    check("hardsigmoid", x);
    if (x.numel() == 0) {
      return ElementwiseOps.empty("hardsigmoid", x);
    }
    INDArray xv = x.data();
    INDArray out = Transforms.min(Transforms.max(xv.add(3.0), 0.0, false), 6.0, false).divi(6.0);
    // libnd4j's scalar max turns NaN into the bound; PyTorch keeps NaN: out = isNaN(x) ? x : out
    Nd4j.exec(new CompareAndSet(out, xv, out, Conditions.isNan()));
    return record("hardsigmoid", out, Input.of(x, g -> {
      DataType t = xv.dataType();
      // g / 6 strictly inside (-3, 3); exactly 0 elsewhere and at NaN, whatever g is (a select, not g * 0)
      INDArray gx = g.mul(1.0 / 6.0);
      INDArray inside = xv.gt(-3.0).castTo(t).muli(xv.lt(3.0).castTo(t));
      Nd4j.exec(new CompareAndSet(gx, inside, gx, Conditions.lessThanOrEqual(0)));
      return gx;
    }));
  }
}
