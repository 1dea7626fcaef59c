package io.graft.layers.activation;

import io.graft.core.Tensor;
import io.graft.core.ops.ActivationOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * x σ(x) (swish).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.SiLU.html">torch.nn.SiLU</a>
 */
@HoldsNoIntermediates
public final class SiLU extends Module {
  @Override
  public Tensor forward(Tensor x) {
    return ActivationOps.silu(x);
  }
}
