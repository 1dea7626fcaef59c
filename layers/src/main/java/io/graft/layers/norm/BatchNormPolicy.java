package io.graft.layers.norm;

/**
 * What a BatchNorm layer whose affine parameters are frozen does with its running statistics while the model
 * is in training mode. PyTorch has no such notion: a frozen BatchNorm left in train mode keeps normalising with
 * batch statistics and updating its running averages, which silently drifts a "frozen" backbone. Graft makes
 * the choice explicit, per layer.
 */
public enum BatchNormPolicy {
  /**
   * Default (DL4J / timm FrozenBatchNorm behaviour): a frozen BatchNorm normalises with its running statistics
   * and never updates them, even in training mode.
   */
  FREEZE_STATS,
  /** PyTorch's behaviour: in training mode, batch statistics and running-average updates continue. */
  TRAIN_STATS
}
