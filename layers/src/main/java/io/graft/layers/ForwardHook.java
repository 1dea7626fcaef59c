package io.graft.layers;

import io.graft.core.Tensor;

/** Runs after a module's forward, with its input and output (for summaries, feature capture, debugging). */
@FunctionalInterface
public interface ForwardHook {
  /**
   * Called with {@code module}, the {@code input} it was called with and the {@code output} it returned, before the
   * output is passed on.
   */
  void afterForward(Module module, Tensor input, Tensor output);
}
