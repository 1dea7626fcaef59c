package io.graft.layers.loss;

import io.graft.core.Tensor;

/** A criterion: {@code loss = criterion.forward(input, target)}, as PyTorch's {@code criterion(input, target)}. */
@FunctionalInterface
public interface Loss {
  /**
   * The loss of {@code input} against {@code target}: a scalar under mean or sum reduction, per element under none.
   * Throws {@link io.graft.core.ShapeException} when the shapes or dtypes do not fit the criterion.
   */
  Tensor forward(Tensor input, Tensor target);
}
