package io.graft.core.backend;

/** A pointwise activation a backend may run on its own kernels ({@link Kernels#supportsActivation}). */
public enum Activation {
  /** {@code x · sigmoid(x)} (torch.nn.functional.silu); its backward reads x. */
  SILU,
  /** {@code 1 / (1 + e^-x)} (torch.sigmoid); its backward reads the output. */
  SIGMOID
}
