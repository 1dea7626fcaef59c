package io.graft.finetune.train;

import io.graft.finetune.data.DataLoader;
import io.graft.layers.Module;
import io.graft.layers.loss.Loss;
import io.graft.optim.Optimizer;
import java.io.Serializable;

/**
 * One data-parallel replica, built on a worker by a {@link Factory}: the model (same architecture, parameter names
 * and freezing as the driver's; its weights are overwritten from the driver's), its optimizer (same param groups),
 * the loss, and a loader over the whole training set (its order, batch size, seed and transform are the driver's; a
 * replica reads only its shard through {@link DataLoader#batch}).
 */
public record Replica(Module model, Optimizer optimizer, Loss loss, DataLoader train) {
  /**
   * Builds a replica; serializable, since it travels to the workers and runs there. It must build the same replica
   * every time it is called, on any machine.
   */
  @FunctionalInterface
  public interface Factory extends Serializable {
    /** A fresh replica. */
    Replica build();
  }
}
