package io.graft.layers.activation;

import io.graft.core.Tensor;
import io.graft.core.ops.ActivationOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * x Φ(x) with the exact erf form (PyTorch's default {@code approximate='none'}).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.GELU.html">torch.nn.GELU</a>
 */
@HoldsNoIntermediates
public final class GELU extends Module {
  @Override
  public Tensor forward(Tensor x) {
    return ActivationOps.gelu(x);
  }
}
