package io.graft.layers.activation;

import io.graft.core.Tensor;
import io.graft.core.ops.ActivationOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * x for x ≥ 0, {@code negativeSlope}·x otherwise (default slope 0.01).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.LeakyReLU.html">torch.nn.LeakyReLU</a>
 */
@HoldsNoIntermediates
public final class LeakyReLU extends Module {
  private final double negativeSlope;

  /** LeakyReLU with PyTorch's default {@code negative_slope = 0.01}. */
  public LeakyReLU() {
    this(0.01);
  }

  /** LeakyReLU with slope {@code negativeSlope} for negative inputs (PyTorch's {@code negative_slope}). */
  public LeakyReLU(double negativeSlope) {
    this.negativeSlope = negativeSlope;
  }

  @Override
  public Tensor forward(Tensor x) {
    return ActivationOps.leakyRelu(x, negativeSlope);
  }

  @Override
  protected String extraRepr() {
    return "negative_slope=" + negativeSlope;
  }

  /** PyTorch's {@code negative_slope}. */
  public double negativeSlope() {
    return negativeSlope;
  }
}
