package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.optim.Optimizer;
import io.graft.optim.ParamGroup;
import io.graft.optim.scheduler.CosineAnnealingLR;
import io.graft.optim.scheduler.LRScheduler;
import io.graft.optim.scheduler.LinearLR;
import io.graft.optim.scheduler.OneCycleLR;
import io.graft.optim.scheduler.ReduceLROnPlateau;
import io.graft.optim.scheduler.Scheduler;
import io.graft.optim.scheduler.SequentialLR;
import io.graft.optim.scheduler.StepLR;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The learning-rate schedule flags of {@code graft finetune} (a picocli mixin): {@code --lr-schedule} with
 * {@code --warmup-epochs}, {@code --lr-step-size}, {@code --lr-gamma}, {@code --lr-factor} and
 * {@code --lr-patience}. The schedule is stepped once per epoch, and each is the API's scheduler, so the rates are
 * PyTorch's exactly:
 * <ul>
 *   <li>{@code constant}: no schedule;
 *   <li>{@code step}: StepLR(step_size, gamma);
 *   <li>{@code cosine}: CosineAnnealingLR(T_max = the epochs after the warm-up);
 *   <li>{@code onecycle}: OneCycleLR(max_lr = each param group's lr, total_steps = epochs), PyTorch's defaults
 *       otherwise (it brings its own warm-up, pct_start 0.3);
 *   <li>{@code plateau}: ReduceLROnPlateau(factor, patience) on the validation loss.
 * </ul>
 * A warm-up of W epochs (LinearLR from 1/(W+1) of each group's lr to all of it over W epochs) runs first, chained
 * with SequentialLR at milestone W; it cannot precede onecycle or plateau (PyTorch's SequentialLR cannot chain
 * ReduceLROnPlateau, and OneCycleLR warms up itself).
 */
final class Schedules {
  static final List<String> NAMES = List.of("constant", "step", "cosine", "onecycle", "plateau");

  @Option(names = "--lr-schedule", defaultValue = "constant", paramLabel = "NAME", description = "learning-rate "
      + "schedule, stepped once per epoch: constant | step (StepLR) | cosine (CosineAnnealingLR over the epochs after "
      + "the warm-up) | onecycle (OneCycleLR, max_lr = --lr and the backbone's rates) | plateau (ReduceLROnPlateau on "
      + "the validation loss)")
  String name;

  @Option(names = "--warmup-epochs", defaultValue = "0", paramLabel = "N", description = "epochs of linear warm-up "
      + "(LinearLR from 1/(N+1) of the lr) before the schedule; not with onecycle or plateau")
  int warmupEpochs;

  @Option(names = "--lr-step-size", paramLabel = "N", description = "step: multiply the lr by --lr-gamma every N "
      + "epochs (StepLR step_size; required with --lr-schedule step)")
  Integer stepSize;

  @Option(names = "--lr-gamma", defaultValue = "0.1", description = "step: the lr's factor every --lr-step-size "
      + "epochs (StepLR gamma)")
  double gamma;

  @Option(names = "--lr-factor", defaultValue = "0.1", description = "plateau: the lr's factor when the validation "
      + "loss stalls (ReduceLROnPlateau factor)")
  double factor;

  @Option(names = "--lr-patience", defaultValue = "10", paramLabel = "N", description = "plateau: epochs without a "
      + "better validation loss before the lr is cut (ReduceLROnPlateau patience)")
  int patience;

  @Spec(Spec.Target.MIXEE)
  CommandSpec mixee;

  /** Checks the flags: a known schedule, its parameters in range, and no parameter of another schedule given. */
  void check(int epochs) {
    if (!NAMES.contains(name)) {
      throw new GraftException("--lr-schedule: unknown schedule '" + name + "'; expected one of " + NAMES);
    }
    if (warmupEpochs < 0) {
      throw new GraftException("--warmup-epochs must not be negative, got " + warmupEpochs);
    }
    if (warmupEpochs > 0 && warmupEpochs >= epochs) {
      throw new GraftException("--warmup-epochs " + warmupEpochs + " leaves no epoch of the schedule (--epochs "
          + epochs + ")");
    }
    if (warmupEpochs > 0 && (name.equals("plateau") || name.equals("onecycle"))) {
      throw new GraftException("--lr-schedule " + name + " cannot follow --warmup-epochs (" + (name.equals("plateau")
          ? "ReduceLROnPlateau reacts to the validation loss, not to the epoch" : "OneCycleLR warms up by itself, "
          + "over its first 30% of epochs") + "); drop one of them");
    }
    given("--lr-step-size", "step");
    given("--lr-gamma", "step");
    given("--lr-factor", "plateau");
    given("--lr-patience", "plateau");
    if (name.equals("step") && (stepSize == null || stepSize < 1)) {
      throw new GraftException("--lr-schedule step needs --lr-step-size N with N >= 1"
          + (stepSize == null ? "" : ", got " + stepSize));
    }
    if (!(gamma > 0) || !Double.isFinite(gamma)) {
      throw new GraftException("--lr-gamma must be positive and finite, got " + gamma);
    }
    if (!(factor > 0 && factor < 1)) {
      throw new GraftException("--lr-factor must lie in (0, 1), got " + factor);
    }
    if (patience < 0) {
      throw new GraftException("--lr-patience must not be negative, got " + patience);
    }
  }

  /** A flag given on the command line for a schedule other than {@code owner} is refused, not ignored. */
  private void given(String flag, String owner) {
    if (!name.equals(owner) && mixee != null && mixee.commandLine() != null
        && mixee.commandLine().getParseResult() != null
        && mixee.commandLine().getParseResult().hasMatchedOption(flag)) {
      throw new GraftException(flag + " is a parameter of --lr-schedule " + owner + ", not of --lr-schedule " + name);
    }
  }

  /** The flags that decide the schedule, as recorded in the run's config (those of other schedules: null). */
  Map<String, String> recorded() {
    Map<String, String> o = new LinkedHashMap<>();
    o.put("lr-schedule", name);
    o.put("warmup-epochs", String.valueOf(warmupEpochs));
    o.put("lr-step-size", name.equals("step") ? String.valueOf(stepSize) : null);
    o.put("lr-gamma", name.equals("step") ? String.valueOf(gamma) : null);
    o.put("lr-factor", name.equals("plateau") ? String.valueOf(factor) : null);
    o.put("lr-patience", name.equals("plateau") ? String.valueOf(patience) : null);
    return o;
  }

  /** Whether the schedule's length is sized from {@code --epochs} (so a resumed run may not change them). */
  boolean sizedByEpochs() {
    return name.equals("cosine") || name.equals("onecycle");
  }

  /** The scheduler for {@code opt} over {@code epochs} epochs, or null for {@code constant} without warm-up. */
  Scheduler build(Optimizer opt, int epochs) {
    check(epochs);
    LRScheduler main;
    switch (name) {
      case "constant" -> main = null;
      case "step" -> main = new StepLR(opt, stepSize, gamma);
      case "cosine" -> main = new CosineAnnealingLR(opt, epochs - warmupEpochs);
      case "onecycle" -> {
        double[] maxLr = opt.paramGroups().stream().mapToDouble(ParamGroup::lr).toArray();
        return new OneCycleLR(opt, maxLr, epochs, OneCycleLR.Options.defaults());
      }
      case "plateau" -> {
        return new ReduceLROnPlateau(opt, ReduceLROnPlateau.Options.defaults().withFactor(factor)
            .withPatience(patience));
      }
      default -> throw new IllegalStateException(name); // check() refused it
    }
    if (warmupEpochs == 0) {
      return main;
    }
    LinearLR warm = new LinearLR(opt, 1.0 / (warmupEpochs + 1), 1.0, warmupEpochs);
    return main == null ? warm : new SequentialLR(opt, List.of(warm, main), warmupEpochs);
  }
}
