package io.graft.optim.scheduler;

import io.graft.core.GraftException;
import io.graft.optim.Adam;
import io.graft.optim.Optimizer;
import io.graft.optim.OptimizerOptions;
import io.graft.optim.ParamGroup;
import io.graft.optim.SGD;
import java.util.List;

/**
 * The 1cycle policy: LR rises from {@code maxLr / divFactor} to {@code maxLr} over {@code pctStart} of the steps,
 * then anneals to {@code initial / finalDivFactor}; momentum (SGD's {@code momentum}, Adam's β1) cycles the
 * opposite way. Stepped once per batch; stepping past {@code totalSteps} is an error, as in PyTorch.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.OneCycleLR.html">OneCycleLR</a>
 */
public final class OneCycleLR extends LRScheduler {
  /** PyTorch's defaults: pct_start 0.3, cos, cycle momentum 0.85–0.95, div 25, final div 1e4, two phases. */
  public record Options(double pctStart, boolean cosine, boolean cycleMomentum, double baseMomentum,
      double maxMomentum, double divFactor, double finalDivFactor, boolean threePhase) {
    /**
     * PyTorch's defaults: {@code pct_start=0.3}, cosine annealing, momentum cycled between 0.85 and 0.95, {@code
     * div_factor=25}, {@code final_div_factor=1e4}, two phases.
     */
    public static Options defaults() {
      return new Options(0.3, true, true, 0.85, 0.95, 25, 1e4, false);
    }

    /** These options with PyTorch's {@code pct_start}: the fraction of the steps spent rising, in [0, 1]. */
    public Options withPctStart(double p) {
      return new Options(p, cosine, cycleMomentum, baseMomentum, maxMomentum, divFactor, finalDivFactor, threePhase);
    }

    /** {@code "cos"} or {@code "linear"}. */
    public Options withAnnealStrategy(String s) {
      if (!s.equals("cos") && !s.equals("linear")) {
        throw new GraftException("OneCycleLR: anneal_strategy must be 'cos' or 'linear', got '" + s + "'");
      }
      return new Options(pctStart, s.equals("cos"), cycleMomentum, baseMomentum, maxMomentum, divFactor,
          finalDivFactor, threePhase);
    }

    /**
     * These options with PyTorch's {@code cycle_momentum}: whether momentum (SGD) or beta1 (Adam) cycles inversely to
     * the LR.
     */
    public Options withCycleMomentum(boolean c) {
      return new Options(pctStart, cosine, c, baseMomentum, maxMomentum, divFactor, finalDivFactor, threePhase);
    }

    /** These options with PyTorch's {@code base_momentum} and {@code max_momentum}, the ends of the momentum cycle. */
    public Options withMomentumRange(double base, double max) {
      return new Options(pctStart, cosine, cycleMomentum, base, max, divFactor, finalDivFactor, threePhase);
    }

    /**
     * These options with PyTorch's {@code div_factor} (initial LR = max_lr / div) and {@code final_div_factor} (minimum
     * LR = initial LR / finalDiv).
     */
    public Options withDivFactors(double div, double finalDiv) {
      return new Options(pctStart, cosine, cycleMomentum, baseMomentum, maxMomentum, div, finalDiv, threePhase);
    }

    /** These options with PyTorch's {@code three_phase}: a third phase annealing from the initial LR to the minimum. */
    public Options withThreePhase(boolean t) {
      return new Options(pctStart, cosine, cycleMomentum, baseMomentum, maxMomentum, divFactor, finalDivFactor, t);
    }
  }

  private record Phase(double endStep, String startLr, String endLr, String startMomentum, String endMomentum) {}

  private final int totalSteps;
  private final Options o;
  private final Phase[] phases;
  private final boolean useBeta1;

  /**
   * 1cycle with the same {@code maxLr} for every group over {@code totalSteps} steps and PyTorch's default options;
   * throws as {@link #OneCycleLR(Optimizer, double[], int, Options)}.
   */
  public OneCycleLR(Optimizer optimizer, double maxLr, int totalSteps) {
    this(optimizer, fill(maxLr, optimizer), totalSteps, Options.defaults());
  }

  /**
   * 1cycle with one {@code maxLr} per param group (PyTorch's {@code max_lr}) over {@code totalSteps} steps (PyTorch's
   * {@code total_steps}); sets each group's LR to max_lr / div_factor. Throws {@link GraftException} for a non-positive
   * {@code totalSteps}, a {@code maxLr} count other than the group count, {@code pctStart} outside [0, 1], or momentum
   * cycling on an optimizer without momentum or betas.
   */
  public OneCycleLR(Optimizer optimizer, double[] maxLr, int totalSteps, Options options) {
    super(prepare(optimizer, maxLr, totalSteps, options));
    this.totalSteps = totalSteps;
    this.o = options;
    double p = options.pctStart();
    phases = options.threePhase()
        ? new Phase[] {new Phase(p * totalSteps - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
            new Phase(2 * p * totalSteps - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
            new Phase(totalSteps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")}
        : new Phase[] {new Phase(p * totalSteps - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
            new Phase(totalSteps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")};
    OptimizerOptions defaults = optimizer.defaults();
    useBeta1 = defaults instanceof Adam.Options;
    if (options.cycleMomentum()) {
      if (!useBeta1 && !(defaults instanceof SGD.Options)) {
        throw new GraftException("OneCycleLR: optimizer has neither momentum nor betas; set cycleMomentum false");
      }
      for (ParamGroup g : optimizer.paramGroups()) {
        setMomentum(g, options.maxMomentum());
        g.schedulerValue("max_momentum", options.maxMomentum());
        g.schedulerValue("base_momentum", options.baseMomentum());
      }
    }
    initialStep();
  }

  private static double[] fill(double v, Optimizer o) {
    double[] a = new double[o.paramGroups().size()];
    java.util.Arrays.fill(a, v);
    return a;
  }

  private static Optimizer prepare(Optimizer optimizer, double[] maxLr, int totalSteps, Options o) {
    List<ParamGroup> groups = optimizer.paramGroups();
    if (totalSteps < 1) {
      throw new GraftException("OneCycleLR: total_steps must be positive, got " + totalSteps);
    }
    if (maxLr.length != groups.size()) {
      throw new GraftException("OneCycleLR: " + maxLr.length + " max_lr values for " + groups.size()
          + " param groups");
    }
    if (!(o.pctStart() >= 0 && o.pctStart() <= 1)) {
      throw new GraftException("OneCycleLR: pct_start must be in [0, 1], got " + o.pctStart());
    }
    for (int i = 0; i < maxLr.length; i++) {
      ParamGroup g = groups.get(i);
      double initial = maxLr[i] / o.divFactor();
      g.schedulerValue("initial_lr", initial);
      g.schedulerValue("max_lr", maxLr[i]);
      g.schedulerValue("min_lr", initial / o.finalDivFactor());
    }
    return optimizer;
  }

  /** Sets SGD's momentum, or Adam's β1. */
  private void setMomentum(ParamGroup g, double m) {
    if (useBeta1) {
      Adam.Options a = (Adam.Options) g.options();
      g.options(a.withBetas(m, a.beta2()));
    } else {
      g.options(((SGD.Options) g.options()).withMomentum(m));
    }
  }

  private double anneal(double start, double end, double pct) {
    if (o.cosine()) {
      return end + (start - end) / 2.0 * (Math.cos(Math.PI * pct) + 1);
    }
    return (end - start) * pct + start;
  }

  @Override
  protected double[] computeLr() {
    int stepNum = lastEpoch;
    if (stepNum > totalSteps) {
      throw new GraftException("OneCycleLR: tried to step " + stepNum + " times, but total_steps is " + totalSteps);
    }
    List<ParamGroup> groups = optimizer.paramGroups();
    double[] lr = new double[groups.size()];
    for (int gi = 0; gi < lr.length; gi++) {
      ParamGroup g = groups.get(gi);
      double start = 0;
      for (int i = 0; i < phases.length; i++) {
        Phase ph = phases[i];
        if (stepNum <= ph.endStep() || i == phases.length - 1) {
          double pct = (stepNum - start) / (ph.endStep() - start);
          lr[gi] = anneal(g.schedulerValue(ph.startLr()), g.schedulerValue(ph.endLr()), pct);
          if (o.cycleMomentum()) {
            setMomentum(g, anneal(g.schedulerValue(ph.startMomentum()), g.schedulerValue(ph.endMomentum()), pct));
          }
          break;
        }
        start = ph.endStep();
      }
    }
    return lr;
  }
}
