package io.graft.finetune.cli;

import io.graft.finetune.recipe.Stages;
import io.graft.finetune.train.EpochStats;
import io.graft.finetune.train.TrainListener;
import io.graft.layers.Module;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * The one-line events of a {@code graft finetune} run on standard output, epochs numbered from 1 as in every file
 * the run writes: a resume, a stage unfrozen (gradual unfreezing), each epoch's figures. Early stopping is reported
 * by the command from the trainer's history.
 */
final class RunEvents implements TrainListener {
  private final Module model;
  private final PrintWriter log;
  private final int epochs;
  private List<String> trainable;

  RunEvents(Module model, PrintWriter log, int epochs) {
    this.model = model;
    this.log = log;
    this.epochs = epochs;
    this.trainable = trainableStages();
  }

  private List<String> trainableStages() {
    List<String> out = new ArrayList<>();
    for (String stage : Stages.of(model)) {
      String[] patterns = Stages.patterns(stage);
      if (model.namedParameters().entrySet().stream().anyMatch(e -> e.getValue().requiresGrad()
          && java.util.Arrays.stream(patterns).anyMatch(p -> io.graft.layers.params.Params.matches(p, e.getKey())))) {
        out.add(stage);
      }
    }
    return out;
  }

  @Override
  public void onResume(int epochsDone) {
    log.printf("resumed from the checkpoint: epoch%s done, continuing %s%n",
        epochsDone == 1 ? " 1" : "s 1-" + epochsDone,
        epochsDone >= epochs ? "with nothing left to train (--epochs " + epochs + ")"
            : "at epoch " + (epochsDone + 1) + " of " + epochs);
    log.flush();
  }

  @Override
  public void onEpochStart(int epoch) {
    List<String> now = trainableStages();
    List<String> opened = new ArrayList<>(now);
    opened.removeAll(trainable);
    if (!opened.isEmpty()) {
      log.printf("epoch %d: unfroze %s (training now: %s and the head)%n", epoch + 1, String.join(", ", opened),
          String.join(", ", now));
      log.flush();
    }
    trainable = now;
  }

  @Override
  public void onEpochEnd(EpochStats e) {
    log.printf("epoch %d/%d: train loss %.4f acc %.2f%% | val loss %.4f acc %.2f%% | %.1fs%s%n", e.epoch() + 1, epochs,
        e.trainLoss(), e.trainAccuracy(), e.valLoss(), e.valAccuracy(), e.seconds(),
        e.cached() ? " (feature cache)" : "");
    log.flush();
  }
}
