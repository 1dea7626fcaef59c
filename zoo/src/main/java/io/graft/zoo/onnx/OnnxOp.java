package io.graft.zoo.onnx;

import io.graft.core.Tensor;

/**
 * An ONNX operator as Graft ops: given the node (attributes, opset) and its input values (null for an omitted
 * optional input), returns its outputs. Floating-point paths are built from differentiable Graft ops, so the
 * imported graph trains with autograd; integer paths (shape arithmetic) run eagerly without gradients.
 */
@FunctionalInterface
public interface OnnxOp {
  /**
   * The outputs of {@code node} on {@code inputs} (in the node's input order, null where omitted), in eval or {@code
   * training} mode; throws {@link io.graft.core.GraftException} naming the node for an attribute, input count or shape
   * it cannot run.
   */
  Tensor[] run(OnnxNode node, Tensor[] inputs, boolean training);
}
