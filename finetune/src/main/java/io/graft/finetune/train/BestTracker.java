package io.graft.finetune.train;

import io.graft.core.StateDict;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The {@link Trainer}'s state across epochs: the history, the best monitored metric and its epoch, the epochs since
 * it improved, whether early stopping fired, and (with keep-best) the best epoch's weights. It starts empty, or from
 * a checkpoint's {@link TrainerState}, and gives that record back for the next checkpoint.
 */
final class BestTracker {
  private final Trainer.Stopping rule;
  private final List<EpochStats> history = new ArrayList<>();
  private double best = Double.NaN;
  private int bestEpoch = -1;
  private int bad;
  private boolean stopped;
  private StateDict bestState;

  BestTracker(Trainer.Stopping rule) {
    this.rule = rule;
  }

  /** Continues from a checkpoint's state; {@code savedBest} holds the best weights saved with it (may be empty). */
  BestTracker(Trainer.Stopping rule, TrainerState saved, StateDict savedBest) {
    this(rule);
    best = saved.best();
    bestEpoch = saved.bestEpoch();
    bad = saved.badEpochs();
    bestState = savedBest.isEmpty() ? null : savedBest;
    history.addAll(saved.history());
    stopped = saved.stopped(); // a run that had stopped early stays stopped, and says so in its history
  }

  /**
   * Records an epoch: its monitored metric (validation figures, or the training ones without validation) decides
   * whether it is the best so far (then {@code weights} is copied with keep-best) and whether patience ran out.
   */
  void record(EpochStats s, boolean validated, Supplier<StateDict> weights) {
    history.add(s);
    boolean byLoss = rule.monitor() == Trainer.Monitor.VAL_LOSS;
    double metric = validated ? (byLoss ? s.valLoss() : s.valAccuracy())
        : (byLoss ? s.trainLoss() : s.trainAccuracy());
    boolean improved = bestEpoch < 0 || (byLoss ? metric < best : metric > best);
    if (improved) {
      best = metric;
      bestEpoch = s.epoch();
      bad = 0;
      if (rule.keepBest()) {
        bestState = weights.get();
      }
    } else {
      bad++;
    }
    stopped = rule.patience() > 0 && bad >= rule.patience();
  }

  boolean stopped() {
    return stopped;
  }

  List<EpochStats> history() {
    return history;
  }

  /** The best epoch's weights kept (null without keep-best or before any epoch). */
  StateDict bestState() {
    return bestState;
  }

  /** What a checkpoint saves. */
  TrainerState state() {
    return new TrainerState(best, bestEpoch, bad, stopped, List.copyOf(history));
  }

  History result() {
    return new History(history, bestEpoch, best, stopped);
  }
}
