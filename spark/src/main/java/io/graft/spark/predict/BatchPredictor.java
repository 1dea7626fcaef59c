package io.graft.spark.predict;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.finetune.cli.ImagePredictions;
import io.graft.finetune.transforms.Transform;
import io.graft.spark.SparkJobs;
import io.graft.spark.features.Backbone;
import io.graft.spark.features.ImageSource;
import io.graft.spark.features.PartitionBatches;
import io.graft.spark.features.Sample;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Batch inference on Spark: a classifier ({@link Backbone}, head included) over an {@link ImageSource}, one row per
 * image with the columns of {@link #SCHEMA}: {@code path} (null for index-keyed sources), {@code index} (-1 for
 * path-keyed ones), {@code label} (the source's, -1: unlabelled), {@code class} (the most probable class's name),
 * {@code top_classes} and {@code top_probabilities} (the {@code k} most probable classes, softmax in double, ranked
 * as single-process {@code graft predict --images} ranks them, by {@link ImagePredictions#top}) and {@code logits}
 * (float32, one per class). The frame is lazy; a failure (a bad image) surfaces at the first action, which {@link
 * #write} and {@link SparkJobs#run} turn into a {@link GraftException} naming the file. Each task holds one batch of
 * images and its partition's output rows.
 */
public final class BatchPredictor {
  /** The output columns. */
  public static final StructType SCHEMA = new StructType()
      .add("path", DataTypes.StringType, true)
      .add("index", DataTypes.LongType, false)
      .add("label", DataTypes.IntegerType, false)
      .add("class", DataTypes.StringType, false)
      .add("top_classes", DataTypes.createArrayType(DataTypes.StringType, false), false)
      .add("top_probabilities", DataTypes.createArrayType(DataTypes.DoubleType, false), false)
      .add("logits", DataTypes.createArrayType(DataTypes.FloatType, false), false);

  private BatchPredictor() {}

  /**
   * The predictions of {@code model} for every image of {@code source}, preprocessed by {@code transform} (null:
   * none), {@code batchSize} images per forward pass, with {@code classes} naming the model's outputs and {@code
   * topK} classes per image (all when there are fewer).
   */
  public static Dataset<Row> predict(SparkSession spark, ImageSource source, Backbone model, Transform transform,
      List<String> classes, int topK, int batchSize) {
    if (topK < 1 || batchSize < 1) {
      throw new GraftException("predict: top-k and batch size must be positive, got " + topK + " and " + batchSize);
    }
    if (classes.isEmpty()) {
      throw new GraftException("predict: no class names");
    }
    List<String> names = List.copyOf(classes);
    String what = model.describe();
    JavaRDD<Row> rows = source.samples(spark).mapPartitions(it -> {
      List<Row> out = new ArrayList<>();
      PartitionBatches.run(it, source, model, transform, batchSize, (m, samples, x, labels) -> {
        Tensor logits = m.call(x);
        int n = samples.size();
        int c = names.size();
        if (logits.rank() != 2 || logits.shape()[0] != n || logits.shape()[1] != c) {
          throw new GraftException(what + ": the model's output has shape " + Arrays.toString(logits.shape())
              + ", not (" + n + ", " + c + ") for " + n + " images and the " + c + " classes " + names);
        }
        float[] v = logits.toFloatArray();
        for (int i = 0; i < n; i++) {
          out.add(row(samples.get(i), (int) labels[i], v, i * c, c, topK, names));
        }
      });
      return out.iterator();
    });
    return spark.createDataFrame(rows, SCHEMA);
  }

  private static Row row(Sample s, int label, float[] v, int off, int c, int k, List<String> names) {
    ImagePredictions.Row top = ImagePredictions.top(null, v, off, c, k);
    String[] cls = new String[top.classes().length];
    for (int j = 0; j < cls.length; j++) {
      cls[j] = names.get(top.classes()[j]);
    }
    return RowFactory.create(s.key(), s.index(), label, cls[0], cls, top.probabilities(),
        Arrays.copyOfRange(v, off, off + c));
  }

  /**
   * Writes {@code predictions} as Parquet to the new folder {@code out} (any Hadoop path); returns the number of rows
   * written. A failed job is a {@link GraftException} naming the bad file; an existing {@code out} is refused.
   */
  public static long write(SparkSession spark, Dataset<Row> predictions, String out) {
    SparkJobs.run("predict", () -> {
      predictions.write().mode(SaveMode.ErrorIfExists).parquet(out);
      return null;
    });
    return spark.read().parquet(out).count();
  }
}
