package io.graft.layers;

import io.graft.core.Tensor;

/** Runs after a module's forward, with its input and output (for summaries, feature capture, debugging). */
@FunctionalInterface
public interface ForwardHook {
  void afterForward(Module module, Tensor input, Tensor output);
}
