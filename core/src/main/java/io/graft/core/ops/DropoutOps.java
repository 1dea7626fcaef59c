package io.graft.core.ops;

import static io.graft.core.autograd.Autograd.record;

import io.graft.core.GraftException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Input;
import io.graft.core.random.Rng;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Inverted dropout with an explicit generator. */
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
}
