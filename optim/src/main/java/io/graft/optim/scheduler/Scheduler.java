package io.graft.optim.scheduler;

import java.util.Map;

/**
 * A learning-rate schedule over an optimizer's param groups. Call {@link #step()} after {@code optimizer.step()}
 * (per epoch or per batch, as the schedule was sized); {@link ReduceLROnPlateau} takes the monitored metric
 * through {@link #step(double)}, which the other schedules accept and ignore, so a training loop can call
 * {@code step(validationLoss)} on any of them.
 */
public interface Scheduler {
  /**
   * Advances the schedule by one step (epoch or batch) and sets each param group's LR; {@link ReduceLROnPlateau} throws
   * here, as it needs {@link #step(double)}.
   */
  void step();

  /** Steps with a monitored metric; schedules that do not monitor one ignore it. */
  default void step(double metric) {
    step();
  }

  /** Whether {@link #step(double)} needs a real metric (only {@link ReduceLROnPlateau}). */
  default boolean monitorsMetric() {
    return false;
  }

  /** The learning rate of each param group after the last step. */
  double[] lastLr();

  /** Counters and fields as JSON-friendly values (numbers, booleans, lists), for checkpoints. */
  Map<String, Object> stateDict();

  /**
   * Restores counters and fields from {@link #stateDict()} of a schedule of the same kind over the same param groups;
   * throws {@link io.graft.core.GraftException} naming the field at fault when the state does not fit.
   */
  void loadStateDict(Map<String, Object> state);
}
