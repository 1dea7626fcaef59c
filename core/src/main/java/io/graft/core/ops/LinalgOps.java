package io.graft.core.ops;

import static io.graft.core.autograd.Autograd.record;

import io.graft.core.GradientSink;
import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Autograd;
import io.graft.core.backend.Backends;
import io.graft.core.backend.Kernels;
import io.graft.core.autograd.Broadcast;
import io.graft.core.autograd.Input;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/** Matrix products: {@code matmul} and {@code linear}, each one node. */
public final class LinalgOps {
  private LinalgOps() {}

  /**
   * Matrix product with torch.matmul's rules: 2-D × 2-D is a matrix product; with more dimensions the
   * leading (batch) dimensions broadcast. 1-D operands are promoted (a row for the left, a column for the
   * right) and the added dimension removed again.
   */
  public static Tensor matmul(Tensor a, Tensor b) {
    Shapes.requireSameDtype("matmul", a, b);
    Shapes.requireFloat("matmul", "input", a);
    if (a.rank() == 0 || b.rank() == 0) {
      throw ShapeException.of("matmul", "both arguments need at least one dimension", a.shape(), b.shape());
    }
    if (a.rank() == 1) {
      return ShapeOps.squeeze(matmul(ShapeOps.unsqueeze(a, 0), b), -2);
    }
    if (b.rank() == 1) {
      return ShapeOps.squeeze(matmul(a, ShapeOps.unsqueeze(b, 1)), -1);
    }
    long[] as = a.shape();
    long[] bs = b.shape();
    long m = as[as.length - 2];
    long k = as[as.length - 1];
    long n = bs[bs.length - 1];
    if (bs[bs.length - 2] != k) {
      throw ShapeException.of("matmul", "inner dimensions differ (" + k + " vs " + bs[bs.length - 2] + ")", as, bs);
    }
    if (a.numel() == 0 || b.numel() == 0) {
      // empty operands (libnd4j's matmul fails on them): the product is zeros (k = 0) or empty
      long[] lead = as.length == 2 && bs.length == 2 ? new long[0]
          : Broadcast.shape("matmul", Arrays.copyOf(as, as.length - 2), Arrays.copyOf(bs, bs.length - 2));
      long[] outShape = append(lead, m, n);
      Shapes.checkNew("matmul", outShape);
      return record("matmul", Nd4j.zeros(a.dtype(), outShape),
          Input.of(a, g -> Nd4j.zeros(g.dataType(), as)), Input.of(b, g -> Nd4j.zeros(g.dataType(), bs)));
    }
    if (as.length == 2 && bs.length == 2) {
      INDArray av = a.data();
      INDArray bv = b.data();
      return record("matmul", mm(av, bv, false, false),
          Input.of(a, g -> mm(g, bv, false, true)),    // dA = G Bᵀ
          Input.of(b, g -> mm(av, g, true, false)));   // dB = Aᵀ G
    }
    if (as.length == bs.length && Arrays.equals(as, 0, as.length - 2, bs, 0, bs.length - 2)) {
      INDArray av = a.data();
      INDArray bv = b.data();
      Kernels kernels = Backends.batchedMatmul(av, bv, Autograd.willRecord(a, b));
      if (kernels != null) {   // one batched call reading the operands in place (transposed views included)
        int r = as.length;
        return record("matmul", kernels.batchedMatmul(av, bv),
            Input.of(a, g -> kernels.batchedMatmul(g, bv.swapAxes(r - 2, r - 1))),    // dA = G Bᵀ
            Input.of(b, g -> kernels.batchedMatmul(av.swapAxes(r - 2, r - 1), g)));   // dB = Aᵀ G
      }
    }
    long[] batch = Broadcast.shape("matmul", Arrays.copyOf(as, as.length - 2), Arrays.copyOf(bs, bs.length - 2));
    long nb = Shapes.numel(batch);
    Shapes.checkNew("matmul", append(batch, m, n));
    INDArray a3 = expandTo(a.data(), batch, m, k).reshape('c', nb, m, k);
    INDArray b3 = expandTo(b.data(), batch, k, n).reshape('c', nb, k, n);
    long[] outShape = append(batch, m, n);
    INDArray out = mm(a3, b3, false, false).reshape('c', outShape);
    return record("matmul", out,
        Input.of(a, g -> Broadcast.sumTo(mm(g.reshape('c', nb, m, n), b3, false, true)      // dA = G Bᵀ
            .reshape('c', append(batch, m, k)), as)),
        Input.of(b, g -> Broadcast.sumTo(mm(a3, g.reshape('c', nb, m, n), true, false)      // dB = Aᵀ G
            .reshape('c', append(batch, k, n)), bs)));
  }

  /**
   * y = x Wᵀ + b for x {@code (*, in)}, W {@code (out, in)}, b {@code (out)} or null: one node, as
   * torch.nn.functional.linear. The product reads W with a transposed-GEMM flag (no transposed copy), the bias is
   * added in place, and the backward computes dx = G W, dW = Gᵀ x (straight into the gradient buffer W kept, see
   * {@link GradientSink}) and db = the column sums of G: no transpose, broadcast-add or reduction nodes around it.
   */
  public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
    if (weight.rank() != 2) {
      throw ShapeException.of("linear", "weight must be 2-D (out_features, in_features)", weight.shape());
    }
    if (x.rank() == 0 || x.shape()[x.rank() - 1] != weight.shape()[1]) {
      throw ShapeException.of("linear", "input's last dimension must equal in_features = " + weight.shape()[1],
          x.shape(), weight.shape());
    }
    if (bias != null && (bias.rank() != 1 || bias.shape()[0] != weight.shape()[0])) {
      throw ShapeException.of("linear", "bias must have shape [out_features = " + weight.shape()[0] + "]",
          bias.shape(), weight.shape());
    }
    Shapes.requireSameDtype("linear", x, weight);
    Shapes.requireFloat("linear", "input", x);
    if (bias != null) {
      Shapes.requireSameDtype("linear", x, bias);
    }
    Tensor x2 = x.rank() == 2 ? x : ShapeOps.reshape(x, -1, weight.shape()[1]);
    Tensor y = x2.numel() == 0 || weight.numel() == 0 ? composedLinear(x2, weight, bias) : linear2d(x2, weight, bias);
    if (x.rank() != 2) {
      long[] s = x.shape().clone();
      s[s.length - 1] = weight.shape()[0];
      y = ShapeOps.reshape(y, s);
    }
    return y;
  }

  /** {@link #linear} for a 2-D, non-empty x. */
  private static Tensor linear2d(Tensor x, Tensor weight, Tensor bias) {
    INDArray xv = x.data();
    INDArray wv = weight.data();
    INDArray bv = bias == null ? null : bias.data();
    INDArray y = mm(xv, wv, false, true, null);
    if (bv != null) {
      y.addiRowVector(bv);
    }
    long[] ws = weight.shape();
    return Autograd.recordJoint("linear", y, new Tensor[] {x, weight, bias}, (g, needs) -> {
      INDArray[] out = new INDArray[3];
      if (needs[0]) {
        out[0] = mm(g, wv, false, false, null);                                   // dx = G W
      }
      if (needs[1]) {
        out[1] = mm(g, xv, true, false, GradientSink.take(wv, ws));              // dW = Gᵀ x
      }
      if (needs[2]) {
        INDArray db = GradientSink.take(bv, new long[] {ws[0]});
        out[2] = db == null ? g.sum(0) : g.sum(db, 0);                            // db = Σ rows of G
      }
      return out;
    });
  }

  /** Empty operands: the composed form (matmul's zeros rules), which also gives the right empty gradients. */
  private static Tensor composedLinear(Tensor x, Tensor weight, Tensor bias) {
    Tensor y = matmul(x, ShapeOps.transpose(weight, 0, 1));
    return bias == null ? y : ElementwiseOps.add(y, bias);
  }

  /** (Batched) product of rank-2 or rank-3 arrays with optional transposition, into a fresh C-order array. */
  static INDArray mm(INDArray a, INDArray b, boolean ta, boolean tb) {
    return mm(a, b, ta, tb, null);
  }

  /** {@link #mm} into {@code into} (C order, the product's shape, every element written) or, when null, a new array. */
  static INDArray mm(INDArray a, INDArray b, boolean ta, boolean tb, INDArray into) {
    int r = a.rank();
    long m = ta ? a.size(r - 1) : a.size(r - 2);
    long n = tb ? b.size(r - 2) : b.size(r - 1);
    long[] shape = r == 2 ? new long[] {m, n} : new long[] {a.size(0), m, n};
    INDArray out = into != null ? into : Nd4j.create(a.dataType(), shape);
    Nd4j.exec(DynamicCustomOp.builder("matmul").addInputs(a, b).addOutputs(out)
        .addIntegerArguments(ta ? 1 : 0, tb ? 1 : 0).build());
    return out;
  }

  private static INDArray expandTo(INDArray x, long[] batch, long r, long c) {
    long[] target = append(batch, r, c);
    if (Arrays.equals(x.shape(), target)) {
      return x;
    }
    long[] padded = new long[target.length];
    Arrays.fill(padded, 1);
    System.arraycopy(x.shape(), 0, padded, target.length - x.rank(), x.rank());
    return Broadcast.to(x.reshape('c', padded), target);
  }

  private static long[] append(long[] batch, long r, long c) {
    long[] s = Arrays.copyOf(batch, batch.length + 2);
    s[batch.length] = r;
    s[batch.length + 1] = c;
    return s;
  }
}
