package io.graft.core.autograd;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The backward of an op whose native kernel yields the gradients of several inputs at once (for example
 * libnd4j's {@code conv2d_bp} returns dx, dw and db together). {@code needs[i]} tells whether input i wants
 * a gradient; the result holds one array per input, {@code null} where not needed.
 */
@FunctionalInterface
public interface JointVjp {
  /**
   * The gradients of the inputs from {@code gradOutput}: one array per input, {@code null} where {@code needs[i]} is
   * false.
   */
  INDArray[] apply(INDArray gradOutput, boolean[] needs);
}
