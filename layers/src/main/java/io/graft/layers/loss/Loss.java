package io.graft.layers.loss;

import io.graft.core.Tensor;

/** A criterion: {@code loss = criterion.forward(input, target)}, as PyTorch's {@code criterion(input, target)}. */
@FunctionalInterface
public interface Loss {
  Tensor forward(Tensor input, Tensor target);
}
