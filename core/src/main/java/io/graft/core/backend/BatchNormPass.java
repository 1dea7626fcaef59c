package io.graft.core.backend;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One batch normalisation forward ({@link Kernels#batchNorm}): its output, the statistics it normalised with (the
 * batch's mean and biased variance, or the given ones), and its backward, which reads what the forward kept.
 */
public interface BatchNormPass {
  /** The normalised (and, if affine, scaled and shifted) output, of the input's shape. */
  INDArray output();

  /** Per-channel mean {@code (C)}. */
  INDArray mean();

  /** Per-channel (biased) variance {@code (C)}. */
  INDArray var();

  /** {@code {dx, dweight, dbias}} for the output gradient {@code g}, each null unless asked for. */
  INDArray[] backward(INDArray g, boolean needX, boolean needWeight, boolean needBias);

  /** Frees the forward's arrays (a pass whose output is discarded). */
  void release();
}
