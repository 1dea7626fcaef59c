package io.graft.zoo.onnx.export;

import io.graft.layers.Module;

/**
 * Writes one module type's eval-mode forward as ONNX nodes: given the value name of the module's input, adds the
 * nodes (and the module's own tensors as initializers, under their state-dict names) and returns the name of the
 * output value. A container's emitter hands its children to {@link Emission#emit}.
 */
@FunctionalInterface
public interface Emitter<M extends Module> {
  /**
   * Adds {@code module}'s nodes (at dotted {@code path}) reading value {@code input} to {@code e}'s graph and returns
   * its output value's name; throws {@link io.graft.core.GraftException} naming the path for a configuration ONNX
   * export does not support.
   */
  String emit(Emission e, String path, M module, String input);
}
