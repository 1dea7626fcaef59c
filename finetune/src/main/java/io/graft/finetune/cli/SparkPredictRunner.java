package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.finetune.transforms.Transform;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.ServiceLoader;

/**
 * The seam between {@code graft predict --spark-master} and graft-spark: the finetune module cannot depend on Spark,
 * so graft-spark implements this interface and registers it with {@link ServiceLoader} ({@code
 * META-INF/services/io.graft.finetune.cli.SparkPredictRunner}). {@code graft predict} resolves everything it can on
 * the driver as a single-process run does (model and weights checked, class names, the recorded preprocessing) and
 * hands the result over as a {@link Request}; without graft-spark on the class path, {@link #find} fails with a
 * message saying what to add.
 */
public interface SparkPredictRunner {
  /**
   * One batch-inference job: {@code master} (Spark's master URL), {@code data} (a folder or glob of images, any
   * Hadoop file system), {@code out} (a new folder for the predictions), the model ({@code model} + {@code weights}
   * and {@code numClasses}, or {@code onnx} with optional {@code weights}), its {@code classes} in output order, the
   * evaluation {@code transform} on images decoded to {@code channels}, {@code topK} classes per image and {@code
   * batchSize} images per forward pass.
   */
  record Request(String master, String data, Path out, String model, Path weights, Path onnx, Integer numClasses,
      List<String> classes, Transform transform, int channels, int topK, int batchSize) {}

  /** Runs {@code request}, printing a summary to {@code out}; returns the exit status. */
  int run(Request request, PrintWriter out, PrintWriter err);

  /**
   * The implementation on the class path (graft-spark's); throws {@link GraftException} saying how to get one when
   * there is none.
   */
  static SparkPredictRunner find() {
    for (SparkPredictRunner r : ServiceLoader.load(SparkPredictRunner.class)) {
      return r;
    }
    throw new GraftException("--spark-master needs graft-spark (io.graft:graft-spark) and Apache Spark on the class "
        + "path: use the graft distribution, which carries both, or spark-submit graft-spark's "
        + "io.graft.spark.cli.GraftSparkMain (see docs/distributed.md)");
  }
}
