package io.graft.core.ops;

import static io.graft.core.autograd.Autograd.record;

import io.graft.core.GraftException;
import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Broadcast;
import io.graft.core.autograd.Input;
import io.graft.core.random.Rng;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Scaled dot-product attention (what torch.nn.MultiheadAttention computes per head), composed from {@link
 * LinalgOps#matmul}, a softmax over the last axis with its own backward, and {@link DropoutOps#dropout}.
 */
public final class AttentionOps {
  private AttentionOps() {}

  /**
   * softmax(q kᵀ / √E + mask) v for q {@code (*, L, E)}, k {@code (*, S, E)}, v {@code (*, S, Ev)} with the same
   * leading (batch, head) dimensions; {@code attnMask} is null or a float tensor added to the scores that broadcasts
   * to {@code (*, L, S)} (use -inf to mask a position out). With {@code training} and {@code dropoutP > 0} the
   * attention weights go through dropout drawn from {@code rng}. q is scaled before the product, as PyTorch 1.13's
   * {@code _scaled_dot_product_attention} does. Throws a {@link ShapeException} for ranks below 2, differing leading
   * dimensions, or mismatched E or S, and a {@link GraftException} for {@code dropoutP} outside [0, 1].
   */
  public static Tensor scaledDotProductAttention(Tensor q, Tensor k, Tensor v, Tensor attnMask, double dropoutP,
      boolean training, Rng rng) {
    String op = "scaled_dot_product_attention";
    Shapes.requireFloat(op, "query", q);
    Shapes.requireSameDtype(op, q, k);
    Shapes.requireSameDtype(op, q, v);
    if (q.rank() < 2 || k.rank() != q.rank() || v.rank() != q.rank()) {
      throw ShapeException.of(op, "query, key and value need the same rank, at least 2", q.shape(), k.shape(),
          v.shape());
    }
    int r = q.rank();
    long[] qs = q.shape();
    long[] ks = k.shape();
    long[] vs = v.shape();
    if (!Arrays.equals(Arrays.copyOf(qs, r - 2), Arrays.copyOf(ks, r - 2))
        || !Arrays.equals(Arrays.copyOf(qs, r - 2), Arrays.copyOf(vs, r - 2))) {
      throw ShapeException.of(op, "query, key and value must have the same leading dimensions", qs, ks, vs);
    }
    if (qs[r - 1] != ks[r - 1] || ks[r - 2] != vs[r - 2]) {
      throw ShapeException.of(op, "query and key need the same embedding size and key and value the same length",
          qs, ks, vs);
    }
    if (!(dropoutP >= 0 && dropoutP <= 1)) {
      throw new GraftException(op + ": dropout_p must be in [0, 1], got " + dropoutP);
    }
    long[] scoreShape = qs.clone();
    scoreShape[r - 1] = ks[r - 2];
    if (attnMask != null) {
      Shapes.requireSameDtype(op, q, attnMask);
      Broadcast.shape(op, scoreShape, attnMask.shape());
      if (!Arrays.equals(Broadcast.shape(op, scoreShape, attnMask.shape()), scoreShape)) {
        throw ShapeException.of(op, "attn_mask must broadcast to the scores' shape " + Shapes.str(scoreShape),
            attnMask.shape());
      }
    }
    Tensor scores = LinalgOps.matmul(ElementwiseOps.mul(q, 1.0 / Math.sqrt(qs[r - 1])), ShapeOps.transpose(k, -2,
        -1));
    if (attnMask != null) {
      scores = ElementwiseOps.add(scores, attnMask);
    }
    Tensor weights = softmaxLast(scores);
    if (training && dropoutP > 0) {
      weights = DropoutOps.dropout(weights, dropoutP, true, rng);
    }
    return LinalgOps.matmul(weights, v);
  }

  /** Softmax over the last axis in one node: y = exp(x - max) / sum, dx = y (g - sum(g y)). */
  static Tensor softmaxLast(Tensor x) {
    long[] s = x.shape();
    if (x.numel() == 0) {
      return ElementwiseOps.empty("softmax", x);
    }
    long n = s[s.length - 1];
    long rows = x.numel() / n;
    INDArray xv = x.data();
    INDArray x2 = (xv.isView() || xv.ordering() != 'c' ? xv.dup('c') : xv).reshape('c', rows, n);
    INDArray y = x2.subColumnVector(x2.max(true, 1));
    Transforms.exp(y, false);
    y.diviColumnVector(y.sum(true, 1));
    return record("softmax", y.reshape('c', s), Input.of(x, g -> {
      INDArray g2 = g.dup('c').reshape('c', rows, n);
      INDArray dot = g2.mul(y).sum(true, 1);
      return g2.subiColumnVector(dot).muli(y).reshape('c', s);
    }));
  }
}
