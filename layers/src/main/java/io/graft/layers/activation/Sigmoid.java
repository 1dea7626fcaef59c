package io.graft.layers.activation;

import io.graft.core.Tensor;
import io.graft.core.ops.ActivationOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * 1 / (1 + e^{-x}).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.Sigmoid.html">torch.nn.Sigmoid</a>
 */
@HoldsNoIntermediates
public final class Sigmoid extends Module {
  @Override
  public Tensor forward(Tensor x) {
    return ActivationOps.sigmoid(x);
  }
}
