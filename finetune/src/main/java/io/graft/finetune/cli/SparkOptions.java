package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.finetune.recipe.Strategy;
import io.graft.finetune.train.DataParallelBackend;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The {@code --spark-*} flags of {@code graft finetune} (a picocli mixin): with {@code --spark-master}, each epoch's
 * steps train data-parallel on a Spark cluster ({@code local[N]} or {@code spark://host:7077}) through the {@link
 * DataParallelBackend} on the class path (graft-spark); everything else (validation, schedules, records, outputs)
 * stays as in a single-process run. Without graft-spark on the class path {@code --spark-master} fails with a message
 * saying so.
 */
final class SparkOptions {
  /** The step checkpoint's file name in {@code --out}. */
  static final String STEP_CHECKPOINT = "spark-steps.ckpt";

  @Option(names = "--spark-master", paramLabel = "URL", description = "train data-parallel on Spark (DDP semantics): "
      + "local[N] or spark://host:7077; needs graft-spark on the class path")
  String master;

  @Option(names = "--spark-workers", paramLabel = "N", description = "replicas, one Spark task each (default: N of "
      + "local[N], else 2); each trains on --batch-size / N images per step")
  Integer workers;

  @Option(names = "--spark-checkpoint-every", defaultValue = "0", paramLabel = "STEPS", description = "the driver "
      + "checkpoints every STEPS steps to --out/" + STEP_CHECKPOINT + " and resubmits from it when an executor dies "
      + "(0: once per epoch, a failure restarts the epoch)")
  int checkpointEvery;

  @Option(names = "--spark-local-sgd", defaultValue = "0", paramLabel = "K", description = "local SGD: each replica "
      + "steps on its own gradients and the weights are averaged every K steps (0: average gradients every step)")
  int localSgd;

  @Option(names = "--spark-exchange", defaultValue = "blocks", paramLabel = "NAME", description = "how gradients "
      + "travel: blocks (executor to executor through Spark's block manager, polled) | block-manager (the same, with "
      + "a barrier round per step) | all-gather (through the driver's barrier coordinator)")
  String exchange;

  /**
   * The data-parallel runner for {@code cmd}'s run, or null without {@code --spark-master}; throws {@link
   * GraftException} for flags it cannot honour.
   */
  DataParallelBackend.Runner open(FinetuneCommand cmd, Strategy s, Augment aug, int numClasses) {
    if (master == null) {
      if (workers != null || checkpointEvery != 0 || localSgd != 0) {
        throw new GraftException("--spark-workers, --spark-checkpoint-every and --spark-local-sgd need --spark-master");
      }
      return null;
    }
    if (cmd.onnx != null) {
      throw new GraftException("--spark-master trains zoo models (--model); an --onnx graph cannot be rebuilt on the "
          + "executors");
    }
    int n = workers != null ? workers : localSlots(master);
    if (n < 1 || checkpointEvery < 0 || localSgd < 0) {
      throw new GraftException("--spark-workers must be positive, --spark-checkpoint-every and --spark-local-sgd not "
          + "negative; got " + n + ", " + checkpointEvery + ", " + localSgd);
    }
    DataParallelBackend backend = DataParallelBackend.find("--spark-master");
    Path ck = cmd.out.resolve(STEP_CHECKPOINT).toAbsolutePath();
    return backend.open(new DataParallelBackend.Settings(master, n, checkpointEvery, ck, localSgd, exchange,
        cmd.resume),
        FinetuneReplica.of(cmd, s, aug, numClasses));
  }

  /** N of {@code local[N]} (1 for {@code local}, the cores for {@code local[*]}), else 2. */
  static int localSlots(String master) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("local(\\[(\\d+|\\*)(,\\d+)?])?").matcher(master);
    if (!m.matches()) {
      return 2;
    }
    if (m.group(2) == null) {
      return 1;
    }
    return m.group(2).equals("*") ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(m.group(2));
  }
}
