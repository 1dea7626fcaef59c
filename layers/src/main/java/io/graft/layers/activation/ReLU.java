package io.graft.layers.activation;

import io.graft.core.Tensor;
import io.graft.core.ops.ActivationOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * max(0, x).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.ReLU.html">torch.nn.ReLU</a>
 */
@HoldsNoIntermediates
public final class ReLU extends Module {
  @Override
  public Tensor forward(Tensor x) {
    return ActivationOps.relu(x);
  }
}
