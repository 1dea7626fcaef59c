package io.graft.finetune.train;

import java.io.PrintStream;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * An epoch's progress on standard error: the running mean of the loss over the epoch's images so far (not the last
 * batch's, which jumps), the running accuracy, and images per second. On a terminal it is a bar
 * (me.tongfei:progressbar) redrawn in place, with its ETA; when standard error is not a terminal (a log file, a
 * pipe, CI) it is one line per epoch, written when the epoch ends, instead of a line per redraw.
 */
final class Progress implements AutoCloseable {
  private final ProgressBar bar;
  private final PrintStream lines;
  private final String task;
  private final int batches;
  private final long start = System.nanoTime();
  private int done;
  private String figures = "";

  private Progress(ProgressBar bar, PrintStream lines, String task, int batches) {
    this.bar = bar;
    this.lines = lines;
    this.task = task;
    this.batches = batches;
  }

  /** On {@code System.err}: a bar when the JVM has a console, else one line per epoch. */
  static Progress of(boolean enabled, int epoch, int epochs, int batches) {
    return of(enabled, epoch, epochs, batches, System.err, System.console() != null);
  }

  static Progress of(boolean enabled, int epoch, int epochs, int batches, PrintStream out, boolean terminal) {
    String task = String.format("epoch %d/%d", epoch + 1, epochs);
    if (!enabled) {
      return new Progress(null, null, task, batches);
    }
    if (!terminal) {
      return new Progress(null, out, task, batches);
    }
    return new Progress(new ProgressBarBuilder().setTaskName(task).setInitialMax(batches)
        .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250)
        .setConsumer(new ConsoleProgressBarConsumer(out)).showSpeed().build(), null, task, batches);
  }

  /** After a batch: {@code acc} holds every image of the epoch so far. */
  void step(Evaluation.Accumulator acc) {
    if (bar == null && lines == null) {
      return;
    }
    done++;
    Evaluation e = acc.result();
    double seconds = (System.nanoTime() - start) / 1e9;
    figures = String.format("loss %.4f acc %.1f%% %.0f img/s", e.loss(), e.top1(), acc.count() / seconds);
    if (bar != null) {
      bar.step();
      bar.setExtraMessage(" " + figures);
    }
  }

  @Override
  public void close() {
    if (bar != null) {
      bar.close();
    }
    if (lines != null && done > 0) {
      lines.println(task + ": " + done + "/" + batches + " batches, " + figures);
      lines.flush();
    }
  }
}
