package io.graft.core.backend;

/**
 * The heavy primitives a backend computes, each one kernel: the unit a backend declares
 * ({@link Kernels#kernels()}) and the test registry checks, so that no backend's kernel runs unchecked.
 */
public enum Kernel {
  /** conv2d's output. */
  CONV2D,
  /** conv2d's input gradient (a transposed convolution of the output gradient). */
  CONV2D_INPUT_GRAD,
  /** conv2d's weight and bias gradients. */
  CONV2D_WEIGHT_GRAD,
  /** batch norm's output and batch statistics. */
  BATCH_NORM,
  /** batch norm's input, weight and bias gradients. */
  BATCH_NORM_BACKWARD,
  /** {@code relu(batch_norm(x))} in one pass, keeping the ReLU's mask. */
  BATCH_NORM_RELU,
  /** The gradients of {@link #BATCH_NORM_RELU}, through the mask. */
  BATCH_NORM_RELU_BACKWARD,
  /** Max pooling's output. */
  MAX_POOL2D,
  /** Max pooling's input gradient. */
  MAX_POOL2D_BACKWARD,
  /** Average pooling's output (either divisor). */
  AVG_POOL2D,
  /** Average pooling's input gradient. */
  AVG_POOL2D_BACKWARD,
  /** A batched matrix product {@code (*, m, k) · (*, k, n)} (attention's scores and weighted values). */
  BATCHED_MATMUL,
  /** The operand gradients of {@link #BATCHED_MATMUL} (two more batched products). */
  BATCHED_MATMUL_BACKWARD,
  /** Layer normalisation's output and row statistics. */
  LAYER_NORM,
  /** Layer normalisation's input, weight and bias gradients. */
  LAYER_NORM_BACKWARD,
  /** An elementwise activation (SiLU, sigmoid) in one pass, laid out like its input. */
  ACTIVATION,
  /** {@link #ACTIVATION}'s input gradient in one pass. */
  ACTIVATION_BACKWARD
}
