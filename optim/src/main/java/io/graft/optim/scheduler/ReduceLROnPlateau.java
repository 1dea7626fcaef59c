package io.graft.optim.scheduler;

import io.graft.core.GraftException;
import io.graft.optim.Optimizer;
import io.graft.optim.ParamGroup;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Multiplies the LR by {@code factor} when a monitored metric (e.g. validation loss) has not improved for
 * {@code patience} steps, as torch.optim.lr_scheduler.ReduceLROnPlateau. Call {@link #step(double)}.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.ReduceLROnPlateau.html">
 *     ReduceLROnPlateau</a>
 */
public final class ReduceLROnPlateau implements Scheduler {
  /** PyTorch's defaults: min mode, factor 0.1, patience 10, threshold 1e-4 relative, no cooldown, min_lr 0. */
  public record Options(boolean maximize, double factor, int patience, double threshold, boolean relative,
      int cooldown, double[] minLrs, double eps) {
    /**
     * PyTorch's defaults: mode min, factor 0.1, patience 10, threshold 1e-4 relative, no cooldown, min_lr 0, eps 1e-8.
     */
    public static Options defaults() {
      return new Options(false, 0.1, 10, 1e-4, true, 0, null, 1e-8);
    }

    /** {@code "min"} (loss) or {@code "max"} (accuracy). */
    public Options withMode(String mode) {
      if (!mode.equals("min") && !mode.equals("max")) {
        throw new GraftException("ReduceLROnPlateau: mode must be 'min' or 'max', got '" + mode + "'");
      }
      return new Options(mode.equals("max"), factor, patience, threshold, relative, cooldown, minLrs, eps);
    }

    /** These options with PyTorch's {@code factor}: the LR is multiplied by it on a plateau (must be below 1). */
    public Options withFactor(double f) {
      return new Options(maximize, f, patience, threshold, relative, cooldown, minLrs, eps);
    }

    /**
     * These options with PyTorch's {@code patience}: how many steps without improvement are tolerated before the LR is
     * reduced.
     */
    public Options withPatience(int p) {
      return new Options(maximize, factor, p, threshold, relative, cooldown, minLrs, eps);
    }

    /** {@code mode} is {@code "rel"} or {@code "abs"}. */
    public Options withThreshold(double t, String mode) {
      if (!mode.equals("rel") && !mode.equals("abs")) {
        throw new GraftException("ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got '" + mode + "'");
      }
      return new Options(maximize, factor, patience, t, mode.equals("rel"), cooldown, minLrs, eps);
    }

    /**
     * These options with PyTorch's {@code cooldown}: steps to wait after a reduction before counting bad steps again.
     */
    public Options withCooldown(int c) {
      return new Options(maximize, factor, patience, threshold, relative, c, minLrs, eps);
    }

    /** One value for every group, or one per group. */
    public Options withMinLr(double... m) {
      return new Options(maximize, factor, patience, threshold, relative, cooldown, m.clone(), eps);
    }
  }

  private final Optimizer optimizer;
  private final Options o;
  private final double[] minLrs;
  private double best;
  private int numBadEpochs;
  private int cooldownCounter;
  private int lastEpoch;
  private double[] lastLr;

  /**
   * Monitors a metric for {@code optimizer}'s groups; throws {@link GraftException} if the factor is not below 1 or the
   * min_lr count is neither 1 nor the group count.
   */
  public ReduceLROnPlateau(Optimizer optimizer, Options options) {
    if (!(options.factor() < 1.0)) {
      throw new GraftException("ReduceLROnPlateau: factor must be < 1, got " + options.factor());
    }
    this.optimizer = optimizer;
    this.o = options;
    int n = optimizer.paramGroups().size();
    double[] m = options.minLrs() == null ? new double[] {0} : options.minLrs();
    if (m.length != 1 && m.length != n) {
      throw new GraftException("ReduceLROnPlateau: " + m.length + " min_lr values for " + n + " param groups");
    }
    minLrs = new double[n];
    for (int i = 0; i < n; i++) {
      minLrs[i] = m.length == 1 ? m[0] : m[i];
    }
    best = o.maximize() ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
    lastLr = currentLrs();
  }

  private double[] currentLrs() {
    List<ParamGroup> groups = optimizer.paramGroups();
    double[] lr = new double[groups.size()];
    for (int i = 0; i < lr.length; i++) {
      lr[i] = groups.get(i).lr();
    }
    return lr;
  }

  /** Without a metric there is nothing to monitor. */
  @Override
  public void step() {
    throw new GraftException("ReduceLROnPlateau monitors a metric: call step(metric), e.g. step(validationLoss)");
  }

  @Override
  public boolean monitorsMetric() {
    return true;
  }

  @Override
  public void step(double metric) {
    lastEpoch++;
    if (isBetter(metric)) {
      best = metric;
      numBadEpochs = 0;
    } else {
      numBadEpochs++;
    }
    if (cooldownCounter > 0) {
      cooldownCounter--;
      numBadEpochs = 0;
    }
    if (numBadEpochs > o.patience()) {
      List<ParamGroup> groups = optimizer.paramGroups();
      for (int i = 0; i < groups.size(); i++) {
        double old = groups.get(i).lr();
        double next = Math.max(old * o.factor(), minLrs[i]);
        if (old - next > o.eps()) {
          groups.get(i).lr(next);
        }
      }
      cooldownCounter = o.cooldown();
      numBadEpochs = 0;
    }
    lastLr = currentLrs();
  }

  private boolean isBetter(double a) {
    if (o.relative()) {
      return o.maximize() ? a > best * (o.threshold() + 1) : a < best * (1 - o.threshold());
    }
    return o.maximize() ? a > best + o.threshold() : a < best - o.threshold();
  }

  @Override
  public double[] lastLr() {
    return lastLr.clone();
  }

  /** The best metric seen so far (+infinity in min mode, -infinity in max mode before the first step). */
  public double best() {
    return best;
  }

  @Override
  public Map<String, Object> stateDict() {
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("type", "ReduceLROnPlateau");
    s.put("best", best);
    s.put("num_bad_epochs", numBadEpochs);
    s.put("cooldown_counter", cooldownCounter);
    s.put("last_epoch", lastEpoch);
    s.put("_last_lr", LRScheduler.toList(lastLr));
    return s;
  }

  @Override
  public void loadStateDict(Map<String, Object> s) {
    States.requireType(s, "ReduceLROnPlateau");
    best = States.number(s, "best");
    numBadEpochs = States.integer(s, "num_bad_epochs");
    cooldownCounter = States.integer(s, "cooldown_counter");
    lastEpoch = States.integer(s, "last_epoch");
    lastLr = States.doubles(s, "_last_lr");
  }
}
