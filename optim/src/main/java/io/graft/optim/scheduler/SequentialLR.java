package io.graft.optim.scheduler;

import io.graft.core.GraftException;
import io.graft.core.io.JsonFields;
import io.graft.optim.Optimizer;
import io.graft.optim.ParamGroup;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs schedules one after another, switching at milestones, as PyTorch's SequentialLR — the way to chain a
 * warm-up and a cosine decay:
 *
 * <pre>{@code
 * var warm = new LinearLR(opt, 0.1, 1.0, 5);
 * var cos = new CosineAnnealingLR(opt, 95, 1e-5);
 * Scheduler s = new SequentialLR(opt, List.of(warm, cos), 5);
 * }</pre>
 *
 * At a milestone the next schedule restarts at its epoch 0 (closed form), then continues with its own rule.
 */
public final class SequentialLR implements Scheduler {
  private final Optimizer optimizer;
  private final List<LRScheduler> schedulers;
  private final int[] milestones;
  private int lastEpoch;
  private double[] lastLr;

  /**
   * Runs {@code schedulers} one after another, switching at {@code milestones} (one fewer than the schedulers;
   * PyTorch's {@code milestones}); throws {@link GraftException} for a wrong milestone count or a scheduler over
   * another optimizer.
   */
  public SequentialLR(Optimizer optimizer, List<LRScheduler> schedulers, int... milestones) {
    if (schedulers.isEmpty() || milestones.length != schedulers.size() - 1) {
      throw new GraftException("SequentialLR: expected " + (schedulers.size() - 1) + " milestones for "
          + schedulers.size() + " schedulers, got " + milestones.length);
    }
    for (LRScheduler s : schedulers) {
      if (s.optimizer != optimizer) {
        throw new GraftException("SequentialLR: every scheduler must drive the same optimizer");
      }
    }
    this.optimizer = optimizer;
    this.schedulers = new ArrayList<>(schedulers);
    this.milestones = milestones.clone();
    this.lastEpoch = 0;
    for (ParamGroup g : optimizer.paramGroups()) {
      g.lr(g.schedulerValue("initial_lr"));
    }
    for (LRScheduler s : schedulers) {
      s.lastEpoch -= 1;
    }
    schedulers.get(0).initialStep();
    lastLr = schedulers.get(0).lastLr();
  }

  @Override
  public void step() {
    lastEpoch++;
    int idx = 0;
    while (idx < milestones.length && milestones[idx] <= lastEpoch) {
      idx++;
    }
    LRScheduler s = schedulers.get(idx);
    if (idx > 0 && milestones[idx - 1] == lastEpoch) {
      s.step(0);
    } else {
      s.step();
    }
    lastLr = s.lastLr();
  }

  @Override
  public double[] lastLr() {
    return lastLr.clone();
  }

  @Override
  public Map<String, Object> stateDict() {
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("type", "SequentialLR");
    s.put("last_epoch", lastEpoch);
    s.put("_last_lr", LRScheduler.toList(lastLr));
    List<Map<String, Object>> inner = new ArrayList<>();
    for (LRScheduler x : schedulers) {
      inner.add(x.stateDict());
    }
    s.put("_schedulers", inner);
    return s;
  }

  @Override
  public void loadStateDict(Map<String, Object> s) {
    States.requireType(s, "SequentialLR");
    List<?> inner = JsonFields.list(s, "_schedulers", "scheduler state of SequentialLR");
    if (inner.size() != schedulers.size()) {
      throw new GraftException("SequentialLR: saved state has " + inner.size() + " schedulers, this has "
          + schedulers.size());
    }
    for (int i = 0; i < inner.size(); i++) {
      schedulers.get(i).loadStateDict(JsonFields.map(inner.get(i), "_schedulers[" + i + "]",
          "scheduler state of SequentialLR"));
    }
    lastEpoch = States.integer(s, "last_epoch");
    lastLr = States.doubles(s, "_last_lr");
  }

  Optimizer optimizer() {
    return optimizer;
  }
}
