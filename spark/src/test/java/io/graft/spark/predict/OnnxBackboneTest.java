package io.graft.spark.predict;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.finetune.cli.ModelLoading;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.data.ImageFolder;
import io.graft.finetune.transforms.Normalize;
import io.graft.finetune.transforms.Transform;
import io.graft.layers.Module;
import io.graft.spark.SparkTests;
import io.graft.spark.features.Backbone;
import io.graft.spark.features.SharedDataset;
import io.graft.zoo.onnx.export.OnnxExport;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An ONNX graph as the model ({@link Backbone#onnx}): Spark's logits for an index-keyed ImageFolder equal the zoo
 * model's it was exported from, run in one process.
 */
class OnnxBackboneTest {
  @TempDir
  Path tmp;

  @Test
  void onnxGraphPredictsAsTheModelItWasExportedFrom() throws Exception {
    SparkSession spark = SparkTests.local2();
    Path weights = SparkTests.weights(tmp, "smallcnn", 3);
    Module m = ModelLoading.load("smallcnn", weights, null);
    m.eval();
    Path onnx = tmp.resolve("smallcnn.onnx");
    OnnxExport.write(onnx, OnnxExport.toModel(m, new long[] {1, 28, 28}, Map.of()));
    Path root = SparkTests.imageFolder(tmp.resolve("data"), 3, "a", "b");
    Transform t = new Normalize(new float[] {0.5f}, new float[] {0.5f});
    Backbone b = Backbone.onnx(JavaSparkContext.fromSparkContext(spark.sparkContext()), onnx, null);
    List<Row> rows = BatchPredictor.predict(spark, SharedDataset.imageFolder(root.toString(), 1).withPartitions(2),
        b, t, List.of("x", "y", "z"), 1, 2).collectAsList();
    assertEquals(6, rows.size());
    ImageFolder folder = new ImageFolder(root, 1);
    float[] want;
    try (DataLoader all = new DataLoader(folder, t, DataLoader.Options.batch(6)); var g = GradMode.disabled()) {
      Tensor y = m.call(all.epoch(0).iterator().next().x());
      want = y.toFloatArray();
    }
    for (Row r : rows) {
      int i = (int) r.getLong(1);
      assertEquals(folder.label(i), r.getInt(2));
      List<Float> got = r.getList(6);
      for (int j = 0; j < 3; j++) {
        assertEquals(want[3 * i + j], got.get(j), 1e-5f, "image " + i);
      }
    }
  }
}
