package io.graft.spark.features;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.io.Safetensors;
import io.graft.finetune.cli.ModelLoading;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.data.ImageFolder;
import io.graft.finetune.recipe.FineTune;
import io.graft.finetune.recipe.Strategy;
import io.graft.finetune.train.FeatureCache;
import io.graft.finetune.train.Trainer;
import io.graft.finetune.transforms.Normalize;
import io.graft.finetune.transforms.Transform;
import io.graft.layers.Module;
import io.graft.optim.Optimizer;
import io.graft.spark.SparkTests;
import io.graft.zoo.models.SmallCNN;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Feature extraction from an ImageFolder read by Spark's binaryFile source, from the same folder re-opened on the
 * executors, and from a DataFrame column of image bytes: each equals the single-process feature cache, and a head
 * trained on the driver from the shards equals one trained with the cache the Trainer builds itself.
 */
class ImageFeaturesTest {
  static final Transform NORM = new Normalize(new float[] {0.3f}, new float[] {0.25f});
  @TempDir
  static Path tmp;
  static Path root;
  static Path weights;
  static SparkSession spark;
  static Backbone backbone;
  static ImageFolder folder;
  static FeatureCache single;

  @BeforeAll
  static void setUp() throws IOException {
    spark = SparkTests.local2();
    root = SparkTests.imageFolder(tmp.resolve("data"), 9, "bag", "coat", "dress");
    weights = SparkTests.weights(tmp, "smallcnn", 3);
    backbone = Backbone.zoo(JavaSparkContext.fromSparkContext(spark.sparkContext()), "smallcnn", weights, null);
    folder = new ImageFolder(root, 1);
    Module m = ModelLoading.load("smallcnn", weights, null);
    try (DataLoader all = new DataLoader(folder, NORM, DataLoader.Options.batch(5))) {
      single = FeatureCache.build(m, all, 1L << 20);
    }
  }

  static List<String> paths() {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < folder.size(); i++) {
      keys.add(folder.file(i).toAbsolutePath().toString());
    }
    return keys;
  }

  static void assertSameFeatures(FeatureCache expected, FeatureCache actual) {
    int[] all = new int[expected.size()];
    for (int i = 0; i < all.length; i++) {
      all[i] = i;
    }
    assertEquals(expected.size(), actual.size());
    Tensor[] a = expected.batch(all);
    Tensor[] b = actual.batch(all);
    assertArrayEquals(a[1].toLongArray(), b[1].toLongArray(), "labels");
    assertArrayEquals(a[0].toFloatArray(), b[0].toFloatArray(), 1e-6f, "features");
  }

  @Test
  void imageFolderThroughSparksBinaryFileSource() {
    ImageRows rows = ImageRows.imageFolder(spark, root.toString(), 1).withPartitions(3);
    assertEquals(List.of("bag", "coat", "dress"), rows.classes());
    FeatureShards shards = FeatureExtraction.run(spark, rows, backbone, NORM, tmp.resolve("f1"), 4);
    assertEquals(ImageSource.Keys.PATH, shards.keys());
    assertEquals(27, shards.count());
    try (FeatureCache c = shards.toCache(paths(), 1L << 20)) {
      assertSameFeatures(single, c);
    }
    GraftException e = assertThrows(GraftException.class, () -> shards.toCache(1L << 20));
    assertTrue(e.getMessage().contains("keyed by path"), e.getMessage());
  }

  @Test
  void imageFolderOnASharedPathByIndex() {
    FeatureShards shards = FeatureExtraction.run(spark, SharedDataset.imageFolder(root.toString(), 1)
        .withPartitions(4), backbone, NORM, tmp.resolve("f2"), 4);
    assertEquals(ImageSource.Keys.INDEX, shards.keys());
    try (FeatureCache c = shards.toCache(1L << 20)) {
      assertSameFeatures(single, c);
    }
  }

  @Test
  void dataFrameColumnOfImageBytes() throws IOException {
    List<Row> data = new ArrayList<>();
    for (int i = 0; i < folder.size(); i++) {
      data.add(RowFactory.create("img-" + i, Files.readAllBytes(folder.file(i)), folder.label(i)));
    }
    StructType schema = new StructType().add("id", DataTypes.StringType).add("png", DataTypes.BinaryType)
        .add("y", DataTypes.IntegerType);
    Dataset<Row> df = spark.createDataFrame(data, schema).repartition(2);
    ImageRows rows = ImageRows.of(df, "id", "png", "y", folder.classes(), 1);
    FeatureShards shards = FeatureExtraction.run(spark, rows, backbone, NORM, tmp.resolve("f3"), 8);
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < folder.size(); i++) {
      keys.add("img-" + i);
    }
    try (FeatureCache c = shards.toCache(keys, 1L << 20)) {
      assertSameFeatures(single, c);
    }
    GraftException e = assertThrows(GraftException.class, () -> ImageRows.of(df, "id", "y", null, List.of(), 1));
    assertTrue(e.getMessage().contains("column 'y' must be a binary column"), e.getMessage());
  }

  @Test
  void theHeadTrainsOnTheDriverFromTheShards() {
    FeatureShards shards = FeatureExtraction.run(spark, SharedDataset.imageFolder(root.toString(), 1),
        backbone, NORM, tmp.resolve("f4"), 16);
    float[][] heads = new float[2][];
    for (int mode = 0; mode < 2; mode++) {
      Init.manualSeed(5);
      SmallCNN m = (SmallCNN) ModelLoading.load("smallcnn", weights, null);
      FineTune ft = new FineTune(FineTune.Options.lr(0.05).withStrategy(Strategy.FEATURE_EXTRACT).withSeed(9));
      ft.prepare(m, 3);
      Optimizer opt = ft.optimizer(m);
      Trainer t = new Trainer(m, opt, null, ft.loss(), Trainer.Options.epochs(3).withKeepBest(false));
      try (DataLoader tr = new DataLoader(folder, NORM, DataLoader.Options.batch(8).withShuffle(true).withSeed(2));
           FeatureCache given = shards.toCache(1L << 20)) {
        if (mode == 1) {
          t.withFeatures(given, null);
        }
        assertTrue(t.fit(tr, null).last().cached());
      }
      heads[mode] = m.head().weight().toFloatArray();
    }
    assertArrayEquals(heads[0], heads[1], 1e-6f, "head trained on Spark's features = head trained on its own cache");
  }

  @Test
  void aBadImageFailsTheExtractionWithItsFileNamedAndNoManifest() throws IOException {
    Path bad = SparkTests.imageFolder(tmp.resolve("bad"), 2, "bag", "coat");
    Path broken = bad.resolve("coat").resolve("img99.png");
    Files.write(broken, new byte[] {1, 2, 3});
    Path out = tmp.resolve("f6");
    GraftException e = assertThrows(GraftException.class, () -> FeatureExtraction.run(spark,
        ImageRows.imageFolder(spark, bad.toString(), 1), backbone, NORM, out, 4));
    assertTrue(e.getMessage().startsWith(broken.toAbsolutePath() + ": "), e.getMessage());
    assertTrue(!Files.exists(out.resolve(FeatureExtraction.MANIFEST)), "no manifest for a failed run");
  }

  @Test
  void executorsKeepOneModelPerConcurrentTask() {
    ExecutorModels.Lease a = ExecutorModels.borrow(backbone);
    ExecutorModels.Lease b = ExecutorModels.borrow(backbone);
    assertTrue(a.model() != b.model(), "a borrowed model is never shared");
    a.close();
    try (ExecutorModels.Lease c = ExecutorModels.borrow(backbone)) {
      assertTrue(c.model() == a.model(), "a returned model is reused, not rebuilt");
    }
    b.close();
  }

  @Test
  void aDamagedOrForeignShardIsRefused() throws IOException {
    Path out = tmp.resolve("f5");
    FeatureShards shards = FeatureExtraction.run(spark, SharedDataset.imageFolder(root.toString(), 1)
        .withPartitions(2), backbone, NORM, out, 16);
    Path shard;
    try (var s = Files.list(out)) {
      shard = s.filter(p -> p.getFileName().toString().startsWith("part-")).sorted().findFirst().orElseThrow();
    }
    Safetensors.write(shard, Safetensors.read(shard), Map.of("other", "run"));
    GraftException e = assertThrows(GraftException.class, () -> shards.toCache(1L << 20));
    assertTrue(e.getMessage().contains(shard.getFileName().toString()) && e.getMessage().contains("SHA-256"),
        e.getMessage());
    Files.delete(out.resolve(FeatureExtraction.MANIFEST));
    e = assertThrows(GraftException.class, () -> FeatureShards.open(out));
    assertTrue(e.getMessage().contains("did not finish"), e.getMessage());
  }
}
