package io.graft.layers.activation;

import io.graft.core.Tensor;
import io.graft.core.ops.ActivationOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * x · relu6(x + 3) / 6 (MobileNetV3's activation).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.Hardswish.html">torch.nn.Hardswish</a>
 */
@HoldsNoIntermediates
public final class Hardswish extends Module {
  @Override
  public Tensor forward(Tensor x) {
    return ActivationOps.hardswish(x);
  }
}
