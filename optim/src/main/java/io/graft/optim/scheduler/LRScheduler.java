package io.graft.optim.scheduler;

import io.graft.core.GraftException;
import io.graft.optim.Optimizer;
import io.graft.optim.ParamGroup;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Base of the epoch-indexed schedules, with PyTorch 1.13's {@code _LRScheduler} semantics: the constructor
 * records each group's {@code initial_lr} as its base LR and performs the initial step ({@code last_epoch = 0});
 * {@link #step()} then uses the chainable (recursive) rule of each schedule, {@link #step(int)} the closed form.
 * Using the same recursions as PyTorch gives the same floating-point sequence, not just the same formula.
 */
public abstract class LRScheduler implements Scheduler {
  /** The optimizer whose param groups' LRs this schedule sets. */
  protected final Optimizer optimizer;
  /** Each group's base LR: its {@code initial_lr} when the first schedule was attached. */
  protected final double[] baseLrs;
  /** PyTorch's {@code last_epoch}: -1 before the initial step, then the index of the current epoch (or step). */
  protected int lastEpoch = -1;
  /** PyTorch's {@code _step_count}: how many times the schedule has stepped, the initial step included. */
  protected int stepCount;
  private double[] lastLr;

  /**
   * Attaches to {@code optimizer}: records each group's {@code initial_lr} (its current LR, unless an earlier schedule
   * recorded one) as its base LR. Subclasses finish with {@link #initialStep()}.
   */
  protected LRScheduler(Optimizer optimizer) {
    this.optimizer = optimizer;
    List<ParamGroup> groups = optimizer.paramGroups();
    baseLrs = new double[groups.size()];
    for (int i = 0; i < baseLrs.length; i++) {
      ParamGroup g = groups.get(i);
      if (!g.hasSchedulerValue("initial_lr")) {
        g.schedulerValue("initial_lr", g.lr());
      }
      baseLrs[i] = g.schedulerValue("initial_lr");
    }
  }

  /** Subclasses call this at the end of their constructor (PyTorch's {@code _initial_step}). */
  protected final void initialStep() {
    stepCount = 0;
    step();
  }

  /** The chainable rule: each group's next LR from its current {@code lr} and {@link #lastEpoch}. */
  protected abstract double[] computeLr();

  /** The closed form at {@link #lastEpoch}, or null where the schedule has none. */
  protected double[] closedFormLr() {
    return null;
  }

  @Override
  public void step() {
    stepCount++;
    lastEpoch++;
    apply(computeLr());
  }

  /** Jumps to {@code epoch} (closed form where available), as PyTorch's deprecated {@code step(epoch)}. */
  public void step(int epoch) {
    stepCount++;
    lastEpoch = epoch;
    double[] closed = closedFormLr();
    apply(closed != null ? closed : computeLr());
  }

  private void apply(double[] lrs) {
    List<ParamGroup> groups = optimizer.paramGroups();
    if (lrs.length != groups.size()) {
      throw new GraftException(getClass().getSimpleName() + ": the optimizer has " + groups.size()
          + " param groups but the schedule was made for " + lrs.length);
    }
    for (int i = 0; i < lrs.length; i++) {
      groups.get(i).lr(lrs[i]);
    }
    lastLr = lrs.clone();
  }

  /** Each value times {@code f} (a new array). */
  protected static double[] scaled(double[] lrs, double f) {
    double[] out = lrs.clone();
    for (int i = 0; i < out.length; i++) {
      out[i] *= f;
    }
    return out;
  }

  /** Param group {@code i}'s current LR. */
  protected final double groupLr(int i) {
    return optimizer.paramGroups().get(i).lr();
  }

  /** Every param group's current LR, in group order (a new array). */
  protected final double[] currentLrs() {
    double[] out = new double[baseLrs.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = groupLr(i);
    }
    return out;
  }

  @Override
  public double[] lastLr() {
    return lastLr.clone();
  }

  /** PyTorch's {@code last_epoch}: 0 right after construction, plus one per {@link #step()}. */
  public int lastEpoch() {
    return lastEpoch;
  }

  @Override
  public Map<String, Object> stateDict() {
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("type", getClass().getSimpleName());
    s.put("last_epoch", lastEpoch);
    s.put("_step_count", stepCount);
    s.put("base_lrs", toList(baseLrs));
    s.put("_last_lr", toList(lastLr));
    return s;
  }

  @Override
  public void loadStateDict(Map<String, Object> s) {
    States.requireType(s, getClass().getSimpleName());
    lastEpoch = States.integer(s, "last_epoch");
    stepCount = States.integer(s, "_step_count");
    double[] base = States.doubles(s, "base_lrs");
    if (base.length != baseLrs.length) {
      throw new GraftException(getClass().getSimpleName() + ": saved state has " + base.length
          + " param groups, the optimizer has " + baseLrs.length);
    }
    System.arraycopy(base, 0, baseLrs, 0, base.length);
    lastLr = States.doubles(s, "_last_lr");
  }

  static List<Double> toList(double[] a) {
    List<Double> l = new ArrayList<>();
    for (double d : a) {
      l.add(d);
    }
    return l;
  }
}
