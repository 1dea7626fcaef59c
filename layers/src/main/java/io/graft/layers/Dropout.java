package io.graft.layers;

import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.ops.DropoutOps;
import io.graft.core.random.Rng;

/**
 * Inverted dropout: in training mode zeroes elements with probability {@code p} and scales the rest by
 * {@code 1/(1-p)}; identity in eval mode. Masks come from this module's own generator.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.Dropout.html">torch.nn.Dropout</a>
 */
@HoldsNoIntermediates
public final class Dropout extends Module {
  private final double p;
  private final Rng rng;

  /** Dropout with PyTorch's default {@code p = 0.5}, masks from a fork of {@link Init#defaultRng()}. */
  public Dropout() {
    this(0.5);
  }

  /**
   * Dropout with drop probability {@code p} in [0, 1], masks from a fork of {@link Init#defaultRng()}; throws {@link
   * io.graft.core.GraftException} for any other {@code p}.
   */
  public Dropout(double p) {
    this(p, Init.defaultRng().fork());
  }

  /**
   * Dropout with drop probability {@code p} in [0, 1] whose masks come from {@code rng} (seed it for reproducible
   * training); throws {@link io.graft.core.GraftException} for any other {@code p}.
   */
  public Dropout(double p, Rng rng) {
    if (!(p >= 0 && p <= 1)) {
      throw new io.graft.core.GraftException("Dropout: p must be in [0, 1], got " + p);
    }
    this.p = p;
    this.rng = rng;
  }

  /** The drop probability. */
  public double p() {
    return p;
  }

  /** The generator that draws the masks (its state belongs in checkpoints). */
  public Rng rng() {
    return rng;
  }

  @Override
  public Tensor forward(Tensor x) {
    return DropoutOps.dropout(x, p, isTraining(), rng);
  }

  @Override
  protected String extraRepr() {
    return "p=" + p;
  }
}
