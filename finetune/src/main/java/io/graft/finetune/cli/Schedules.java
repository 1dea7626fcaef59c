package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.optim.Optimizer;
import io.graft.optim.scheduler.CosineAnnealingLR;
import io.graft.optim.scheduler.LRScheduler;
import io.graft.optim.scheduler.LinearLR;
import io.graft.optim.scheduler.ReduceLROnPlateau;
import io.graft.optim.scheduler.Scheduler;
import io.graft.optim.scheduler.SequentialLR;
import io.graft.optim.scheduler.StepLR;
import java.util.List;

/**
 * {@code --scheduler} and {@code --warmup}: the learning-rate schedule, stepped once per epoch. {@code none},
 * {@code cosine} (CosineAnnealingLR over the epochs after the warm-up), {@code step:N[:GAMMA]} (StepLR, gamma 0.1 by
 * default), {@code plateau} (ReduceLROnPlateau on the validation loss). A warm-up of W epochs (LinearLR from
 * 1/(W+1) of each group's lr to all of it) runs first, chained with SequentialLR.
 */
final class Schedules {
  private Schedules() {}

  static Scheduler parse(String spec, int warmup, Optimizer opt, int epochs) {
    if (warmup >= epochs && warmup > 0) {
      throw new GraftException("--warmup " + warmup + " leaves no epoch of the schedule (--epochs " + epochs + ")");
    }
    LRScheduler main;
    if (spec.equals("none")) {
      main = null;
    } else if (spec.equals("cosine")) {
      main = new CosineAnnealingLR(opt, epochs - warmup);
    } else if (spec.startsWith("step:")) {
      String[] p = spec.substring(5).split(":");
      try {
        int n = Integer.parseInt(p[0]);
        double gamma = p.length > 1 ? Double.parseDouble(p[1]) : 0.1;
        if (n < 1 || p.length > 2 || !(gamma > 0) || !Double.isFinite(gamma)) {
          throw new NumberFormatException();
        }
        main = new StepLR(opt, n, gamma);
      } catch (NumberFormatException e) {
        throw new GraftException("--scheduler " + spec + ": expected step:N or step:N:GAMMA with N >= 1, GAMMA > 0");
      }
    } else if (spec.equals("plateau")) {
      if (warmup > 0) {
        throw new GraftException("--scheduler plateau cannot follow a --warmup (ReduceLROnPlateau reacts to the "
            + "validation loss, not to the epoch); drop one of them");
      }
      return new ReduceLROnPlateau(opt, ReduceLROnPlateau.Options.defaults());
    } else {
      throw new GraftException("--scheduler: unknown schedule '" + spec + "'; expected none, cosine, step:N[:GAMMA] "
          + "or plateau");
    }
    if (warmup == 0) {
      return main;
    }
    LinearLR warm = new LinearLR(opt, 1.0 / (warmup + 1), 1.0, warmup);
    return main == null ? warm : new SequentialLR(opt, List.of(warm, main), warmup);
  }
}
