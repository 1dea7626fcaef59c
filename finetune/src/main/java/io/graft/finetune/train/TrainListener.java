package io.graft.finetune.train;

/**
 * Callbacks from the {@link Trainer}; all methods are optional. A listener may change the model between epochs
 * (e.g. unfreeze a stage for gradual unfreezing) — the optimizer keeps its state.
 */
public interface TrainListener {
  /** After a checkpoint was restored, before the first epoch runs: {@code epochsDone} epochs are already trained. */
  default void onResume(int epochsDone) {}

  /** Before epoch {@code epoch} (0-based, as {@link EpochStats#epoch()}; files and screens show it from 1). */
  default void onEpochStart(int epoch) {}

  /**
   * After each training batch: {@code epoch} (0-based), {@code batch} of {@code batches} (0-based), and the batch's
   * mean {@code loss}.
   */
  default void onBatchEnd(int epoch, int batch, int batches, double loss) {}

  /** After an epoch's training and validation, with its statistics. */
  default void onEpochEnd(EpochStats stats) {}
}
