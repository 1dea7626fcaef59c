package io.graft.core;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A leaf tensor owned by a module, trained by optimizers. It requires grad unless frozen
 * ({@code requiresGrad(false)}); freezing belongs to the parameter, not to a wrapper layer.
 */
public final class Parameter extends Tensor {
  /**
   * A parameter that wraps {@code data} without copying it and requires grad (PyTorch's {@code nn.Parameter(data)}).
   */
  public Parameter(INDArray data) {
    super(data);
    requiresGrad(true);
  }

  /** A parameter holding a copy of {@code t}'s values. */
  public static Parameter of(Tensor t) {
    return new Parameter(t.data().dup('c'));
  }
}
