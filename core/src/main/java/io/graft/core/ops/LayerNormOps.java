package io.graft.core.ops;

import io.graft.core.GraftException;
import io.graft.core.NativeMemory;
import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Autograd;
import io.graft.core.backend.Backends;
import io.graft.core.backend.Kernels;
import org.nd4j.linalg.api.buffer.DataType;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Layer normalisation over the trailing dimensions (F.layer_norm), forward and backward in one method. The input is
 * viewed as {@code (M, D)} with {@code D} the product of {@code normalizedShape}; every row is normalised by its own
 * mean and biased variance.
 */
public final class LayerNormOps {
  private LayerNormOps() {}

  /**
   * y = (x - mean) / sqrt(var + eps) * weight + bias, the statistics taken over the last {@code
   * normalizedShape.length} dimensions of {@code x}, which must equal {@code normalizedShape}; {@code weight} and
   * {@code bias} have shape {@code normalizedShape} or are null (elementwise_affine=False, or no bias). Throws a
   * {@link ShapeException} for an empty or non-positive {@code normalizedShape}, one that does not end x's shape, or
   * an affine tensor of another shape.
   *
   * <p>Backward, with xhat the normalised row and gh = g * weight: dx = rstd * (gh - mean(gh) - xhat * mean(gh *
   * xhat)), dweight = sum over rows of g * xhat, dbias = sum over rows of g.
   *
   * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.functional.layer_norm.html">F.layer_norm</a>
   */
  public static Tensor layerNorm(Tensor x, long[] normalizedShape, Tensor weight, Tensor bias, double eps) {
    String op = "layer_norm";
    Shapes.requireFloat(op, "input", x);
    long[] xs = x.shape();
    int k = normalizedShape.length;
    if (k == 0 || k > xs.length) {
      throw ShapeException.of(op, "normalized_shape " + Arrays.toString(normalizedShape) + " must be non-empty and "
          + "no longer than the input's rank", xs);
    }
    long dd = 1;
    for (int i = 0; i < k; i++) {
      if (normalizedShape[i] < 1 || xs[xs.length - k + i] != normalizedShape[i]) {
        throw ShapeException.of(op, "the input's trailing dimensions must equal normalized_shape "
            + Arrays.toString(normalizedShape), xs);
      }
      dd *= normalizedShape[i];
    }
    for (Tensor t : new Tensor[] {weight, bias}) {
      if (t != null) {
        Shapes.requireSameDtype(op, x, t);
        if (!Arrays.equals(t.shape(), normalizedShape)) {
          throw ShapeException.of(op, "weight and bias must have shape normalized_shape "
              + Arrays.toString(normalizedShape), t.shape(), xs);
        }
      }
    }
    if (!(eps >= 0)) {
      throw new GraftException(op + ": eps must be non-negative, got " + eps);
    }
    if (x.numel() == 0) {
      return ElementwiseOps.empty(op, x);
    }
    long d = dd;
    long m = x.numel() / d;
    INDArray xv = x.data();
    if (xv.dataType() == DataType.FLOAT && (weight == null || weight.dtype() == DataType.FLOAT)
        && (bias == null || bias.dtype() == DataType.FLOAT)) {
      Kernels kernels = Backends.layerNorm(m, d, weight != null, bias != null, eps,
          Autograd.willRecord(x, weight, bias));
      if (kernels != null) {
        return kernelLayerNorm(kernels, x, m, d, normalizedShape, weight, bias, eps);
      }
    }
    INDArray x2 = (xv.isView() || xv.ordering() != 'c' ? xv.dup('c') : xv).reshape('c', m, d);
    INDArray mean = x2.mean(true, 1);                                  // (M, 1)
    INDArray xhat = x2.subColumnVector(mean);                          // x - mean, then normalised in place
    INDArray var = xhat.mul(xhat).mean(true, 1);
    INDArray rstd = Transforms.pow(var.addi(eps), -0.5, false);        // (M, 1)
    xhat.muliColumnVector(rstd);
    INDArray w = weight == null ? null : weight.data().reshape('c', 1, d);
    INDArray b = bias == null ? null : bias.data().reshape('c', 1, d);
    INDArray y = w == null ? xhat.dup() : xhat.mulRowVector(w);
    if (b != null) {
      y.addiRowVector(b);
    }
    return Autograd.recordJoint(op, y.reshape('c', xs), new Tensor[] {x, weight, bias}, (g, needs) -> {
      INDArray g2 = g.dup('c').reshape('c', m, d);
      INDArray[] out = new INDArray[3];
      if (needs[1]) {
        out[1] = g2.mul(xhat).sum(0).reshape('c', normalizedShape);
      }
      if (needs[2]) {
        out[2] = g2.sum(0).reshape('c', normalizedShape);
      }
      if (needs[0]) {
        INDArray gh = w == null ? g2 : g2.mulRowVector(w);
        INDArray meanGh = gh.mean(true, 1);
        INDArray meanGhX = gh.mul(xhat).mean(true, 1);
        INDArray dx = gh.subColumnVector(meanGh).subi(xhat.mulColumnVector(meanGhX)).muliColumnVector(rstd);
        out[0] = dx.reshape('c', xs);
      }
      return out;
    });
  }

  /** {@link #layerNorm} on a backend's kernels: one call forward, one backward. */
  private static Tensor kernelLayerNorm(Kernels kernels, Tensor x, long m, long d, long[] normalizedShape,
      Tensor weight, Tensor bias, double eps) {
    long[] xs = x.shape();
    INDArray x2 = x.data().reshape('c', m, d);
    INDArray w = weight == null ? null : weight.data().reshape('c', new long[] {d});
    INDArray b = bias == null ? null : bias.data().reshape('c', new long[] {d});
    INDArray[] f = kernels.layerNorm(x2, w, b, eps);
    INDArray mean = f[1];
    INDArray var = f[2];
    return Autograd.recordJoint("layer_norm", f[0].reshape('c', xs), new Tensor[] {x, weight, bias}, (g, needs) -> {
      INDArray[] r = kernels.layerNormBackward(x2, g.reshape('c', m, d), mean, var, w, b, eps);
      INDArray[] out = new INDArray[3];
      long[][] shapes = {xs, normalizedShape, normalizedShape};
      for (int i = 0; i < 3; i++) {
        if (needs[i]) {
          out[i] = r[i].reshape('c', shapes[i]);
        } else if (r[i] != null) {
          NativeMemory.release(r[i]);   // computed with the others (oneDNN's backward yields both parameters')
        }
      }
      return out;
    });
  }
}
