package io.graft.core.autograd;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A vector–Jacobian product for one input of an op: the gradient of the loss with respect to that input,
 * given the gradient with respect to the op's output. Works on raw arrays, so gradients are never part of
 * a graph (first order only).
 */
@FunctionalInterface
public interface Vjp {
  /** The gradient with respect to the input, of the input's shape, from {@code gradOutput} of the op's output shape. */
  INDArray apply(INDArray gradOutput);
}
