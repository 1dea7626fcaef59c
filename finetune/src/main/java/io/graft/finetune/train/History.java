package io.graft.finetune.train;

import java.util.List;

/** The result of {@link Trainer#fit}: per-epoch statistics, the best epoch by the monitored metric, early stop. */
public record History(List<EpochStats> epochs, int bestEpoch, double bestMetric, boolean stoppedEarly) {
  /** The statistics of the best epoch by the monitored metric, or null when no epoch was best (none ran). */
  public EpochStats best() {
    return epochs.stream().filter(e -> e.epoch() == bestEpoch).findFirst().orElse(null);
  }

  /** The statistics of the last epoch run, or null when none ran. */
  public EpochStats last() {
    return epochs.isEmpty() ? null : epochs.get(epochs.size() - 1);
  }
}
