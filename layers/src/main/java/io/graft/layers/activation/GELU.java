package io.graft.layers.activation;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.ops.ActivationOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * x Φ(x): the exact erf form (PyTorch's default {@code approximate='none'}) or its tanh approximation ({@code
 * approximate='tanh'}).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.GELU.html">torch.nn.GELU</a>
 */
@HoldsNoIntermediates
public final class GELU extends Module {
  private final String approximate;

  /** The exact GELU ({@code approximate='none'}). */
  public GELU() {
    this("none");
  }

  /** GELU with {@code approximate} {@code "none"} (exact) or {@code "tanh"}; anything else is a GraftException. */
  public GELU(String approximate) {
    if (!"none".equals(approximate) && !"tanh".equals(approximate)) {
      throw new GraftException("GELU: approximate must be 'none' or 'tanh', got '" + approximate + "'");
    }
    this.approximate = approximate;
  }

  /** {@code "none"} or {@code "tanh"}. */
  public String approximate() {
    return approximate;
  }

  @Override
  public Tensor forward(Tensor x) {
    return approximate.equals("tanh") ? ActivationOps.geluTanh(x) : ActivationOps.gelu(x);
  }

  @Override
  protected String extraRepr() {
    return "approximate='" + approximate + "'";
  }
}
