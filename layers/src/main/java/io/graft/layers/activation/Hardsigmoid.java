package io.graft.layers.activation;

import io.graft.core.Tensor;
import io.graft.core.ops.ActivationOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * relu6(x + 3) / 6 (MobileNetV3's squeeze-and-excitation gate).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.Hardsigmoid.html">torch.nn.Hardsigmoid</a>
 */
@HoldsNoIntermediates
public final class Hardsigmoid extends Module {
  @Override
  public Tensor forward(Tensor x) {
    return ActivationOps.hardsigmoid(x);
  }
}
