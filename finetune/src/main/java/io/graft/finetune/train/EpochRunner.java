package io.graft.finetune.train;

import io.graft.finetune.data.DataLoader;
import io.graft.layers.Module;
import io.graft.layers.loss.Loss;
import io.graft.optim.Optimizer;

/**
 * Runs the training part of one epoch somewhere other than the {@link Trainer}'s own loop (e.g. data-parallel on
 * Spark, in graft-spark), set with {@link Trainer#trainEpochsWith}. The trainer still does everything around it:
 * listeners (gradual unfreezing), the feature cache (a cached epoch trains the head in the trainer itself), validation,
 * the scheduler, early stopping, keep-best, records and the end-of-epoch checkpoint. A runner must leave
 * {@code model} and {@code optimizer} holding the epoch's result (weights, buffers, optimizer state) when it returns.
 */
public interface EpochRunner {
  /** What a runner gets: the trainer's model, optimizer, loss, training loader and settings for the epoch. */
  record Context(Module model, Optimizer optimizer, Loss loss, DataLoader train, int epoch, int epochs, int classes,
      Trainer.Steps steps) {}

  /** Trains epoch {@code c.epoch()} and returns its training metrics (mean loss, top-1, ...). */
  Evaluation trainEpoch(Context c);
}
