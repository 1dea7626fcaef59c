package io.graft.layers.activation;

import io.graft.core.Tensor;
import io.graft.core.ops.ActivationOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * tanh(x).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.Tanh.html">torch.nn.Tanh</a>
 */
@HoldsNoIntermediates
public final class Tanh extends Module {
  @Override
  public Tensor forward(Tensor x) {
    return ActivationOps.tanh(x);
  }
}
