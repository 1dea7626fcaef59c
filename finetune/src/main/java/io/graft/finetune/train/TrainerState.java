package io.graft.finetune.train;

import io.graft.core.GraftException;
import io.graft.core.io.JsonFields;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the {@link Trainer} keeps across epochs and saves in a checkpoint: the best monitored metric so far and its
 * epoch, the epochs since it improved, whether early stopping fired, and the history of every epoch run.
 *
 * <p>Read back from a checkpoint, every field is checked against the checkpoint's epoch before training resumes:
 * a hand-edited or foreign file is refused with the field named, never trusted into a loop bound.
 */
public record TrainerState(double best, int bestEpoch, int badEpochs, boolean stopped, List<EpochStats> history) {

  Map<String, Object> toJson() {
    Map<String, Object> ts = new LinkedHashMap<>();
    ts.put("best", best);
    ts.put("best_epoch", bestEpoch);
    ts.put("bad_epochs", badEpochs);
    ts.put("stopped", stopped);
    ts.put("history", MetricsLog.toJson(history));
    ts.put("epoch_base", 1); // the history's epochs are numbered from 1, as on screen and in metrics.jsonl
    return ts;
  }

  /**
   * Parses and checks a saved state for a checkpoint taken after epoch {@code epoch} (0-based): its history must
   * hold exactly epochs 0..epoch in order, and the best epoch and the count of epochs without improvement must lie
   * in that range.
   */
  static TrainerState fromJson(Object json, int epoch, String where) {
    Map<String, Object> m = JsonFields.map(json, "trainer", where);
    String w = where + " (trainer state)";
    double best = JsonFields.number(m, "best", false, w);
    int bestEpoch = JsonFields.int32(m, "best_epoch", 0, epoch, w);
    int bad = JsonFields.int32(m, "bad_epochs", 0, epoch, w);
    boolean stopped = JsonFields.bool(m, "stopped", w);
    int base = m.get("epoch_base") == null ? 0 : (int) JsonFields.integer(m, "epoch_base", 0, 1, w); // older: 0
    List<EpochStats> history = MetricsLog.fromJson(JsonFields.list(m, "history", w), base, w);
    if (history.size() != epoch + 1) {
      throw new GraftException(w + ": history holds " + history.size() + " epochs but the checkpoint was taken "
          + "after " + (epoch + 1) + " epochs");
    }
    for (int i = 0; i < history.size(); i++) {
      if (history.get(i).epoch() != i) {
        throw new GraftException(w + ": history entry " + i + " has epoch " + (history.get(i).epoch() + base)
            + ", expected " + (i + base));
      }
    }
    return new TrainerState(best, bestEpoch, bad, stopped, history);
  }
}
