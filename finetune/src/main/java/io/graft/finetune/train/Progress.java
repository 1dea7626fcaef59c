package io.graft.finetune.train;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** The console progress bar of an epoch (me.tongfei:progressbar): loss, accuracy, images per second and ETA. */
final class Progress implements AutoCloseable {
  private final ProgressBar bar;
  private final long start = System.nanoTime();

  private Progress(ProgressBar bar) {
    this.bar = bar;
  }

  static Progress of(boolean enabled, int epoch, int epochs, int batches) {
    if (!enabled) {
      return new Progress(null);
    }
    return new Progress(new ProgressBarBuilder().setTaskName(String.format("epoch %d/%d", epoch + 1, epochs))
        .setInitialMax(batches).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250)
        .setConsumer(new ConsoleProgressBarConsumer(System.err)).showSpeed().build());
  }

  void step(double loss, Evaluation.Accumulator acc) {
    if (bar == null) {
      return;
    }
    bar.step();
    Evaluation e = acc.result();
    double seconds = (System.nanoTime() - start) / 1e9;
    bar.setExtraMessage(String.format(" loss %.4f acc %.1f%% %.0f img/s", loss, e.top1(), acc.count() / seconds));
  }

  @Override
  public void close() {
    if (bar != null) {
      bar.close();
    }
  }
}
