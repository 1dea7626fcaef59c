package io.graft.spark.predict;

import io.graft.core.GraftException;
import io.graft.finetune.cli.SparkPredictRunner;
import io.graft.spark.SparkLogging;
import io.graft.spark.SparkSessions;
import io.graft.spark.features.Backbone;
import io.graft.spark.features.ImageRows;
import java.io.PrintWriter;
import java.nio.file.Files;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * {@code graft predict --spark-master URL --data DIR --out DIR}: graft-spark's {@link SparkPredictRunner}, found by
 * the CLI through {@link java.util.ServiceLoader}. The images of {@code --data} (a folder searched recursively, or a
 * glob; {@link ImageRows#files}) are predicted by {@link BatchPredictor} and written as Parquet to {@code --out}.
 * Spark's own logging is silenced ({@link SparkLogging#quietForCli}); a session this command started is stopped at
 * the end, one that was running already (spark-submit, tests) is left running.
 */
public final class SparkPredict implements SparkPredictRunner {
  /** The runner the ServiceLoader instantiates. */
  public SparkPredict() {}

  @Override
  public int run(Request r, PrintWriter out, PrintWriter err) {
    if (Files.exists(r.out())) {
      throw new GraftException("--out " + r.out() + ": exists; predictions go to a new folder");
    }
    SparkLogging.quietForCli();
    boolean running = SparkSession.getActiveSession().isDefined() || SparkSession.getDefaultSession().isDefined();
    SparkSession spark = SparkSessions.start(r.master(), "graft predict");
    try {
      JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      Backbone model = r.onnx() != null ? Backbone.onnx(sc, r.onnx(), r.weights())
          : Backbone.zoo(sc, r.model(), r.weights(), r.numClasses());
      ImageRows images = ImageRows.files(spark, r.data(), r.channels());
      long n = BatchPredictor.write(spark, BatchPredictor.predict(spark, images, model, r.transform(), r.classes(),
          r.topK(), r.batchSize()), r.out().toAbsolutePath().toString());
      out.printf("%s on Spark (%s): %d images, top-%d of %d classes -> %s (Parquet: path, class, top_classes, "
          + "top_probabilities, logits)%n", model.describe(), r.master(), n, Math.min(r.topK(), r.classes().size()),
          r.classes().size(), r.out());
      out.flush();
      return 0;
    } finally {
      if (!running) {
        spark.stop();
      }
    }
  }
}
