package io.graft.spark.features;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.graft.core.Tensor;
import io.graft.finetune.cli.ModelLoading;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.data.IdxDataset;
import io.graft.finetune.train.FeatureCache;
import io.graft.finetune.transforms.Normalize;
import io.graft.finetune.transforms.Transform;
import io.graft.layers.Module;
import io.graft.spark.SparkTests;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * All 60,000 Fashion-MNIST training images through smallcnn on {@code local[2]}: the features Spark's executors
 * write equal the single-process feature cache's within 1e-6, index by index, labels included.
 */
class FashionMnistFeaturesTest {
  private static final Path DIR = Path.of("/usr/share/datasets/fashion-mnist");

  @Test
  void sixtyThousandImagesEqualTheSingleProcessFeatures(@TempDir Path tmp) {
    assumeTrue(Files.isRegularFile(DIR.resolve("train-images-idx3-ubyte.gz")),
        "Debian's dataset-fashion-mnist is not installed (.ci/run installs it)");
    SparkSession spark = SparkTests.local2();
    Path weights = SparkTests.weights(tmp, "smallcnn", 10);
    Transform t = new Normalize(new float[] {0.2860f}, new float[] {0.3530f});

    long t0 = System.nanoTime();
    Backbone bb = Backbone.zoo(JavaSparkContext.fromSparkContext(spark.sparkContext()), "smallcnn", weights, null);
    FeatureShards shards = FeatureExtraction.run(spark, SharedDataset.fashionMnist(DIR.toString(), true)
        .withPartitions(4), bb, t, tmp.resolve("features"), 256);
    long t1 = System.nanoTime();
    Module m = ModelLoading.load("smallcnn", weights, null);
    IdxDataset train = IdxDataset.fashionMnist(DIR, true);
    try (DataLoader loader = new DataLoader(train, t, DataLoader.Options.batch(256));
         FeatureCache single = FeatureCache.build(m, loader, 1L << 30);
         FeatureCache spread = shards.toCache(1L << 30)) {
      long t2 = System.nanoTime();
      System.out.printf("fashion-mnist 60k smallcnn features: spark local[2] %.1f s, single process %.1f s%n",
          (t1 - t0) / 1e9, (t2 - t1) / 1e9);
      assertEquals(60_000, shards.count());
      assertEquals(64, shards.features());
      assertEquals(IdxDataset.FASHION_CLASSES, shards.classes());
      int[] all = new int[60_000];
      for (int i = 0; i < all.length; i++) {
        all[i] = i;
      }
      Tensor[] a = single.batch(all);
      Tensor[] b = spread.batch(all);
      assertArrayEquals(a[1].toLongArray(), b[1].toLongArray(), "labels");
      float[] x = a[0].toFloatArray();
      float[] y = b[0].toFloatArray();
      double max = 0;
      for (int i = 0; i < x.length; i++) {
        max = Math.max(max, Math.abs(x[i] - y[i]));
      }
      System.out.println("fashion-mnist 60k smallcnn features: max |spark - single| = " + max);
      assertEquals(0, max, 1e-6);
    }
  }
}
