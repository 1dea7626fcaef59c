package io.graft.layers.activation;

import io.graft.core.Tensor;
import io.graft.core.ops.ActivationOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * min(max(0, x), 6) (MobileNetV2's activation).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.ReLU6.html">torch.nn.ReLU6</a>
 */
@HoldsNoIntermediates
public final class ReLU6 extends Module {
  @Override
  public Tensor forward(Tensor x) {
    return ActivationOps.relu6(x);
  }
}
