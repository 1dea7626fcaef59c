package io.graft.spark.predict;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.finetune.cli.ImagePredictions;
import io.graft.finetune.cli.ModelLoading;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.data.ImageFolder;
import io.graft.finetune.transforms.Normalize;
import io.graft.finetune.transforms.Transform;
import io.graft.layers.Module;
import io.graft.spark.SparkTests;
import io.graft.spark.features.Backbone;
import io.graft.spark.features.ImageRows;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Batch inference over a DataFrame of image bytes: its columns hold the single-process logits, top-k classes and
 * probabilities of each image; a file that is not an image fails the job with a driver-side error naming it.
 */
class BatchPredictorTest {
  static final Transform NORM = new Normalize(new float[] {0.5f}, new float[] {0.5f});
  static final List<String> NAMES = List.of("bag", "coat", "dress");
  @TempDir
  static Path tmp;
  static SparkSession spark;
  static Path weights;
  static Backbone model;

  @BeforeAll
  static void setUp() {
    spark = SparkTests.local2();
    weights = SparkTests.weights(tmp, "smallcnn", 3);
    model = Backbone.zoo(JavaSparkContext.fromSparkContext(spark.sparkContext()), "smallcnn", weights, null);
  }

  @Test
  void columnsHoldTheSingleProcessPredictions() throws IOException {
    Path root = SparkTests.imageFolder(tmp.resolve("data"), 4, NAMES.toArray(String[]::new));
    ImageRows images = ImageRows.imageFolder(spark, root.toString(), 1);
    List<Row> rows = BatchPredictor.predict(spark, images, model, NORM, NAMES, 2, 5).collectAsList();
    assertEquals(List.of("path", "index", "label", "class", "top_classes", "top_probabilities", "logits"),
        List.of(BatchPredictor.SCHEMA.fieldNames()));
    assertEquals(12, rows.size());

    ImageFolder folder = new ImageFolder(root, 1);
    Module m = ModelLoading.load("smallcnn", weights, null);
    m.eval();
    Map<String, float[]> logits = new HashMap<>();
    try (DataLoader all = new DataLoader(folder, NORM, DataLoader.Options.batch(12)); var g = GradMode.disabled()) {
      DataLoader.Batch b = all.epoch(0).iterator().next();
      Tensor y = m.call(b.x());
      float[] v = y.toFloatArray();
      for (int i = 0; i < b.size(); i++) {
        logits.put(folder.file(b.indices()[i]).toAbsolutePath().toString(), java.util.Arrays.copyOfRange(v, 3 * i,
            3 * i + 3));
      }
    }
    for (Row r : rows) {
      float[] want = logits.get(r.getString(0));
      List<Float> got = r.getList(6);
      assertEquals(3, got.size(), r.getString(0));
      for (int j = 0; j < 3; j++) {
        assertEquals(want[j], got.get(j), 1e-6f, r.getString(0));
      }
      ImagePredictions.Row top = ImagePredictions.top(null, want, 0, 3, 2);
      List<String> classes = r.getList(4);
      List<Double> probs = r.getList(5);
      assertEquals(List.of(NAMES.get(top.classes()[0]), NAMES.get(top.classes()[1])), classes);
      assertEquals(classes.get(0), r.getString(3));
      assertArrayEquals(top.probabilities(), probs.stream().mapToDouble(Double::doubleValue).toArray(), 1e-6);
      assertEquals(folder.classes().indexOf(Path.of(r.getString(0)).getParent().getFileName().toString()),
          r.getInt(2), "label from the folder");
      assertEquals(-1L, r.getLong(1));
    }
  }

  @Test
  void aBadImageFailsWithItsFileNamed() throws IOException {
    Path dir = SparkTests.imageFolder(tmp.resolve("bad"), 3, "bag");
    Path broken = dir.resolve("bag").resolve("broken.png");
    Files.write(broken, new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3, 4, 5, 6, 7});
    ImageRows images = ImageRows.files(spark, dir.toString(), 1);
    GraftException e = assertThrows(GraftException.class, () -> BatchPredictor.write(spark,
        BatchPredictor.predict(spark, images, model, NORM, NAMES, 1, 2), tmp.resolve("out").toString()));
    assertTrue(e.getMessage().startsWith(broken.toAbsolutePath() + ": "), e.getMessage());
  }
}
