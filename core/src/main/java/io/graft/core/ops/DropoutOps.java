package io.graft.core.ops;

import static io.graft.core.autograd.Autograd.record;

import io.graft.core.GraftException;
import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import io.graft.core.Layout;
import io.graft.core.Tensor;
import io.graft.core.autograd.Input;
import io.graft.core.random.Rng;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastMulOp;
import org.nd4j.linalg.factory.Nd4j;

/** Inverted dropout and stochastic depth, with an explicit generator. */
public final class DropoutOps {
  private DropoutOps() {}

  /**
   * In training, zeroes each element with probability {@code p} (drawn from {@code rng}) and scales the rest
   * by {@code 1 / (1 - p)}; in evaluation, the identity.
   *
   * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.Dropout.html">torch.nn.Dropout</a>
   */
  public static Tensor dropout(Tensor x, double p, boolean training, Rng rng) {
    if (!(p >= 0 && p <= 1)) {
      throw new GraftException("dropout: probability must be in [0, 1], got " + p);
    }
    Shapes.requireFloat("dropout", "input", x);
    if (!training || p == 0) {
      return x;
    }
    if (x.numel() == 0) {
      return ElementwiseOps.empty("dropout", x);
    }
    int n = Math.toIntExact(x.numel());
    float[] m = new float[n];
    if (p < 1) {
      float keep = (float) (1 / (1 - p));
      for (int i = 0; i < n; i++) {
        m[i] = rng.nextDouble() >= p ? keep : 0f;
      }
    }
    INDArray mask = Nd4j.create(m, x.shape(), 'c').castTo(x.dtype());
    return record("dropout", x.data().mul(mask), Input.of(x, g -> g.mul(mask)));  // d/dx = g * mask
  }

  /**
   * Stochastic depth (torchvision.ops.stochastic_depth): in training, zeroes whole samples ({@code row} mode: one
   * draw per index of dimension 0) or the whole batch ({@code batch} mode: one draw) with probability {@code p}
   * and scales the survivors by {@code 1 / (1 - p)} (no scaling when {@code p = 1}); in evaluation, the identity.
   * A residual block applies it to its branch before the skip connection's add.
   *
   * @see <a href="https://pytorch.org/vision/stable/generated/torchvision.ops.stochastic_depth.html">
   *     torchvision.ops.stochastic_depth</a>
   */
  public static Tensor stochasticDepth(Tensor x, double p, String mode, boolean training, Rng rng) {
    if (!(p >= 0 && p <= 1)) {
      throw new GraftException("stochastic_depth: drop probability has to be between 0 and 1, got " + p);
    }
    if (!mode.equals("row") && !mode.equals("batch")) {
      throw new GraftException("stochastic_depth: mode has to be either 'batch' or 'row', got '" + mode + "'");
    }
    Shapes.requireFloat("stochastic_depth", "input", x);
    if (!training || p == 0) {
      return x;
    }
    if (x.rank() == 0 || x.numel() == 0) {
      throw ShapeException.of("stochastic_depth", "needs a non-empty input with a batch dimension", x.shape());
    }
    long[] noiseShape = new long[x.rank()];
    java.util.Arrays.fill(noiseShape, 1);
    if (mode.equals("row")) {
      noiseShape[0] = x.shape()[0];
    }
    int n = Math.toIntExact(noiseShape[0]);
    float[] m = new float[n];
    float keep = p < 1 ? (float) (1 / (1 - p)) : 0f;
    for (int i = 0; i < n; i++) {
      m[i] = rng.nextDouble() >= p ? keep : 0f;
    }
    if (mode.equals("row") && sampleMajor(x.data())) {
      // one scalar multiply per sample over its block of memory, the output laid out like x (a channels_last
      // branch stays channels_last for the residual add); a materialised broadcast mask wrote C order
      INDArray out = scaleSamples(x.data(), m);
      return record("stochastic_depth", out, Input.of(x, g -> scaleSamples(sampleMajor(g) ? g : g.dup('c'), m)));
    }
    INDArray noise = Nd4j.create(m, noiseShape, 'c').castTo(x.dtype());
    INDArray out = x.data().mul(noise.broadcast(x.shape()));
    return record("stochastic_depth", out, Input.of(x, g -> g.mul(noise.broadcast(g.shape()))));  // d/dx = g * noise
  }

  /** Whether {@code a} is dense (any order of its dimensions) with dimension 0 outermost: each sample a block. */
  private static boolean sampleMajor(INDArray a) {
    int[] o = Layout.order(a);
    return a.rank() >= 2 && o != null && o[0] == 0;
  }

  /** {@code a} with sample i multiplied by {@code m[i]}, laid out like {@code a} (which {@link #sampleMajor}). */
  private static INDArray scaleSamples(INDArray a, float[] m) {
    INDArray out = Layout.uninitializedLike(a, a.dataType());
    long n = a.shape()[0];
    long per = a.length() / n;
    INDArray src = Layout.flat(a).reshape('c', n, per);
    INDArray dst = Layout.flat(out).reshape('c', n, per);
    // one broadcast multiply of the (N, numel / N) view by the N scales along dimension 0 (one call, not one per
    // sample); x * 0, not a fill with 0: a dropped sample's infinities and NaNs give NaN, as PyTorch's x * noise
    INDArray scales = Nd4j.createFromArray(m).castTo(a.dataType());
    Nd4j.exec(new BroadcastMulOp(src, scales, dst, 0));
    return out;
  }
}
