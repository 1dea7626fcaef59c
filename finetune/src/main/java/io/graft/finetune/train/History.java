package io.graft.finetune.train;

import java.util.List;

/** The result of {@link Trainer#fit}: per-epoch statistics, the best epoch by the monitored metric, early stop. */
public record History(List<EpochStats> epochs, int bestEpoch, double bestMetric, boolean stoppedEarly) {
  public EpochStats best() {
    return epochs.stream().filter(e -> e.epoch() == bestEpoch).findFirst().orElse(null);
  }

  public EpochStats last() {
    return epochs.isEmpty() ? null : epochs.get(epochs.size() - 1);
  }
}
