package io.graft.zoo.onnx;

import static io.graft.zoo.onnx.Operators.axis;
import static io.graft.zoo.onnx.Operators.in;
import static io.graft.zoo.onnx.Operators.one;
import static io.graft.zoo.onnx.Operators.opt;

import io.graft.core.Tensor;
import io.graft.core.autograd.Autograd;
import io.graft.core.autograd.Broadcast;
import io.graft.core.autograd.Input;
import io.graft.core.ops.ActivationOps;
import io.graft.core.ops.LayerNormOps;
import io.graft.core.ops.ShapeOps;
import java.util.Arrays;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The operators that transformer-era exports add (torchvision's ViT and ConvNeXt through {@code torch.onnx.export},
 * opset 13–17): Erf (GELU's exact form is exported as Div, Erf, Add, Mul, Mul), LayerNormalization (opset 17; older
 * opsets spell it out in ReduceMean, Sub, Pow, Sqrt, Div), and Equal and Where (the shape arithmetic of {@code
 * class_token.expand(n, -1, -1)}). Attention itself arrives as MatMul at rank 3–4, Softmax on the last axis,
 * Transpose, Slice and Reshape, which the other operator classes run.
 */
final class TransformerOperators {
  private TransformerOperators() {}

  static void register(Map<String, OnnxOp> ops) {
    ops.put("Erf", (n, in, t) -> one(ActivationOps.erf(in(n, in, 0))));
    ops.put("LayerNormalization", TransformerOperators::layerNormalization);
    ops.put("Equal", TransformerOperators::equal);
    ops.put("Where", TransformerOperators::where);
  }

  /**
   * LayerNormalization (opset 17): normalises over the dimensions from {@code axis} (default -1) on, with {@code
   * epsilon} (default 1e-5), Scale and the optional B of the normalised shape (a Scale or B with the same elements in
   * another shape, e.g. flattened, is reshaped). The optional outputs Mean and InvStdDev (shape of X with the
   * normalised dimensions set to 1) are computed without a gradient.
   */
  static Tensor[] layerNormalization(OnnxNode n, Tensor[] in, boolean training) {
    Tensor x = in(n, in, 0);
    if (!x.dtype().isFPType()) {
      throw n.error("X must be floating point, got " + x.dtype());
    }
    int ax = axis(n, n.i("axis", -1), x.rank());
    long[] norm = Arrays.copyOfRange(x.shape(), ax, x.rank());
    Tensor scale = fit(n, in(n, in, 1), norm, "Scale");
    Tensor bias = fit(n, opt(in, 2), norm, "B");
    double eps = n.f("epsilon", 1e-5f);
    Tensor y = LayerNormOps.layerNorm(x, norm, scale, bias, eps);
    if (n.outputs().size() < 2 || x.numel() == 0) {
      return one(y);
    }
    long d = io.graft.core.Shapes.numel(norm);
    long[] statShape = x.shape().clone();
    Arrays.fill(statShape, ax, statShape.length, 1);
    INDArray x2 = x.data().dup('c').reshape('c', x.numel() / d, d);
    INDArray mean = x2.mean(true, 1);
    INDArray xc = x2.subColumnVector(mean);
    INDArray inv = org.nd4j.linalg.ops.transforms.Transforms.pow(xc.muli(xc).mean(true, 1).addi(eps), -0.5, false);
    return new Tensor[] {y, Tensor.of(mean.reshape('c', statShape)), Tensor.of(inv.reshape('c', statShape))};
  }

  private static Tensor fit(OnnxNode n, Tensor t, long[] norm, String what) {
    if (t == null || Arrays.equals(t.shape(), norm)) {
      return t;
    }
    if (t.numel() != io.graft.core.Shapes.numel(norm)) {
      throw n.error(what + " has shape " + io.graft.core.Shapes.str(t.shape()) + " but the normalised dimensions are "
          + io.graft.core.Shapes.str(norm));
    }
    return ShapeOps.reshape(t, norm);
  }

  /** Equal: elementwise a == b with broadcasting, a bool tensor (no gradient). */
  static Tensor[] equal(OnnxNode n, Tensor[] in, boolean training) {
    Tensor a = in(n, in, 0);
    Tensor b = in(n, in, 1);
    if (Ints.isInt(a) && Ints.isInt(b)) {
      return one(Tensor.of(Ints.binary("Equal", a, b, DataType.LONG, (x, y) -> x == y ? 1 : 0).data()
          .castTo(DataType.BOOL)));
    }
    if (a.dtype() != b.dtype()) {
      throw n.error("A and B must have the same type, got " + a.dtype() + " and " + b.dtype());
    }
    long[] out = Broadcast.shape("Equal", a.shape(), b.shape());
    io.graft.core.Shapes.checkNew("Equal", out);
    return one(Tensor.of(Broadcast.to(a.data(), out).eq(Broadcast.to(b.data(), out))));
  }

  /**
   * Where: X where the condition holds, else Y, all three broadcast. Integer X and Y (shape arithmetic) are computed
   * eagerly; floating-point ones record a gradient (to X where the condition holds, to Y elsewhere, summed back to
   * their shapes).
   */
  static Tensor[] where(OnnxNode n, Tensor[] in, boolean training) {
    Tensor c = in(n, in, 0);
    Tensor x = in(n, in, 1);
    Tensor y = in(n, in, 2);
    if (x.dtype() != y.dtype()) {
      throw n.error("X and Y must have the same type, got " + x.dtype() + " and " + y.dtype());
    }
    long[] out = Broadcast.shape("Where", Broadcast.shape("Where", c.shape(), x.shape()), y.shape());
    if (Ints.isInt(x)) {
      Ints.checkSize("Where", out);
    } else {
      io.graft.core.Shapes.checkNew("Where", out);
    }
    if (io.graft.core.Shapes.numel(out) == 0) {
      return one(Tensor.of(Nd4j.create(x.dtype(), out)));
    }
    INDArray mask = Broadcast.to(c.data().castTo(DataType.BOOL), out).dup('c');
    INDArray xb = Broadcast.to(x.data(), out).dup('c');
    INDArray yb = Broadcast.to(y.data(), out).dup('c');
    INDArray r = Nd4j.create(x.dtype(), out);
    Nd4j.exec(org.nd4j.linalg.api.ops.DynamicCustomOp.builder("select").addInputs(mask, xb, yb).addOutputs(r).build());
    if (Ints.isInt(x)) {
      return one(Tensor.of(r));
    }
    INDArray m = mask.castTo(x.dtype());
    long[] xs = x.shape();
    long[] ys = y.shape();
    return one(Autograd.record("where", r,
        Input.of(x, g -> Broadcast.sumTo(g.mul(m), xs)),
        Input.of(y, g -> Broadcast.sumTo(g.mul(m.rsub(1)), ys))));
  }
}
