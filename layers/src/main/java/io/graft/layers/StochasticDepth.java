package io.graft.layers;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.ops.DropoutOps;
import io.graft.core.random.Rng;

/**
 * Stochastic depth (torchvision.ops.StochasticDepth): in training mode drops whole samples of a residual branch
 * ({@code "row"}) or the whole branch for the batch ({@code "batch"}) with probability {@code p}, scaling what
 * survives by {@code 1/(1-p)}; identity in eval mode. No parameters or buffers, as in torchvision.
 *
 * @see <a href="https://pytorch.org/vision/stable/generated/torchvision.ops.StochasticDepth.html">
 *     torchvision.ops.StochasticDepth</a>
 */
@HoldsNoIntermediates
public final class StochasticDepth extends Module {
  private final double p;
  private final String mode;
  private final Rng rng;

  /** Stochastic depth with drop probability {@code p} in [0, 1] and mode {@code "row"} or {@code "batch"}. */
  public StochasticDepth(double p, String mode) {
    this(p, mode, Init.defaultRng().fork());
  }

  /** As {@link #StochasticDepth(double, String)}, drawing from {@code rng} (seed it for reproducible training). */
  public StochasticDepth(double p, String mode, Rng rng) {
    if (!(p >= 0 && p <= 1)) {
      throw new GraftException("StochasticDepth: p must be in [0, 1], got " + p);
    }
    if (!"row".equals(mode) && !"batch".equals(mode)) {
      throw new GraftException("StochasticDepth: mode must be 'row' or 'batch', got '" + mode + "'");
    }
    this.p = p;
    this.mode = mode;
    this.rng = rng;
  }

  /** The drop probability. */
  public double p() {
    return p;
  }

  /** {@code "row"} or {@code "batch"}. */
  public String mode() {
    return mode;
  }

  /** The generator that draws the masks. */
  public Rng rng() {
    return rng;
  }

  @Override
  public Tensor forward(Tensor x) {
    return DropoutOps.stochasticDepth(x, p, mode, isTraining(), rng);
  }

  @Override
  protected String extraRepr() {
    return "p=" + p + ", mode=" + mode;
  }
}
