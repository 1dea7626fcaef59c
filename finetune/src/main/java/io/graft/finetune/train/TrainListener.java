package io.graft.finetune.train;

/**
 * Callbacks from the {@link Trainer}; all methods are optional. A listener may change the model between epochs
 * (e.g. unfreeze a stage for gradual unfreezing) — the optimizer keeps its state.
 */
public interface TrainListener {
  default void onEpochStart(int epoch) {}

  default void onBatchEnd(int epoch, int batch, int batches, double loss) {}

  default void onEpochEnd(EpochStats stats) {}
}
