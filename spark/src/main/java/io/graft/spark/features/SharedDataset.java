package io.graft.spark.features;

import io.graft.core.GraftException;
import io.graft.finetune.data.Dataset;
import io.graft.finetune.data.Example;
import io.graft.finetune.data.IdxDataset;
import io.graft.finetune.data.ImageFolder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * A Graft {@link Dataset} on a path every executor can read (a shared file system; on {@code local[N]}, any local
 * path), opened by Graft's own readers on the driver (to check it and count it) and again on each executor, where
 * it is kept for the JVM's later tasks (one at a time). Spark distributes index ranges, not pixels: each task reads
 * the examples of its range, so the images are exactly those of a single-process run, and outputs are keyed by the
 * dataset index. Kinds: IDX files ({@link #fashionMnist}, {@link #idx}) and an ImageFolder ({@link #imageFolder}).
 */
public final class SharedDataset implements ImageSource {
  private static final long serialVersionUID = 1L;
  private static final Object LOCK = new Object();
  private static String openId;
  private static Dataset open;

  private enum Kind { IDX, IMAGE_FOLDER }

  private final Kind kind;
  private final String first;
  private final String second;
  private final List<String> classes;
  private final int channels;
  private final int size;
  private final int partitions;

  private SharedDataset(Kind kind, String first, String second, List<String> classes, int channels, int partitions) {
    this.kind = kind;
    this.first = first;
    this.second = second;
    this.channels = channels;
    this.partitions = partitions;
    Dataset d = kind == Kind.IDX ? new IdxDataset(Path.of(first), Path.of(second), classes)
        : new ImageFolder(Path.of(first), channels);
    this.size = d.size();
    this.classes = List.copyOf(d.classes());
  }

  private SharedDataset(SharedDataset s, int partitions) {
    this.kind = s.kind;
    this.first = s.first;
    this.second = s.second;
    this.channels = s.channels;
    this.classes = s.classes;
    this.size = s.size;
    this.partitions = partitions;
  }

  /** Fashion-MNIST's standard IDX files in {@code dir}, the training split if {@code train}, else the test split. */
  public static SharedDataset fashionMnist(String dir, boolean train) {
    String p = train ? "train" : "t10k";
    return idx(dir + "/" + p + "-images-idx3-ubyte.gz", dir + "/" + p + "-labels-idx1-ubyte.gz",
        IdxDataset.FASHION_CLASSES);
  }

  /** An IDX image file and label file (gzipped or not), labels named by {@code classes}; see {@link IdxDataset}. */
  public static SharedDataset idx(String images, String labels, List<String> classes) {
    return new SharedDataset(Kind.IDX, images, labels, classes, 1, 0);
  }

  /** {@code root/<class>/<image>} read by {@link ImageFolder}, decoded to {@code channels}. */
  public static SharedDataset imageFolder(String root, int channels) {
    return new SharedDataset(Kind.IMAGE_FOLDER, root, null, null, channels, 0);
  }

  /** This dataset split into {@code n} index ranges (Spark partitions); 0: twice Spark's default parallelism. */
  public SharedDataset withPartitions(int n) {
    if (n < 0) {
      throw new GraftException("SharedDataset: partitions must be >= 0, got " + n);
    }
    return new SharedDataset(this, n);
  }

  /** The number of examples. */
  public int size() {
    return size;
  }

  private String id() {
    return kind + "|" + first + "|" + second + "|" + channels;
  }

  private Dataset openHere() {
    return kind == Kind.IDX ? new IdxDataset(Path.of(first), Path.of(second), classes)
        : new ImageFolder(Path.of(first), channels, classes);
  }

  /** The dataset on this JVM, opened once and kept until another one is asked for. */
  Dataset dataset() {
    synchronized (LOCK) {
      if (!id().equals(openId)) {
        open = null; // let the previous one go before reading the next
        Dataset d = openHere();
        if (d.size() != size) {
          throw new GraftException(first + ": " + d.size() + " examples on this executor, but " + size + " on the "
              + "driver; the path must show the same files everywhere");
        }
        open = d;
        openId = id();
      }
      return open;
    }
  }

  @Override
  public JavaRDD<Sample> samples(SparkSession spark) {
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    int n = partitions > 0 ? partitions : 2 * sc.defaultParallelism();
    n = Math.max(1, Math.min(n, size));
    List<int[]> ranges = new ArrayList<>();
    for (int p = 0; p < n; p++) {
      ranges.add(new int[] {(int) ((long) size * p / n), (int) ((long) size * (p + 1) / n)});
    }
    return sc.parallelize(ranges, n).flatMap(r -> new java.util.Iterator<Sample>() {
      private int i = r[0];

      @Override
      public boolean hasNext() {
        return i < r[1];
      }

      @Override
      public Sample next() {
        return new Sample(i++, null, -1, null);
      }
    });
  }

  @Override
  public Example decode(Sample s) {
    Dataset d = dataset();
    if (s.index() < 0 || s.index() >= d.size()) {
      throw new GraftException(first + ": no example " + s.index() + " (" + d.size() + " examples)");
    }
    return d.get((int) s.index());
  }

  @Override
  public List<String> classes() {
    return classes;
  }

  @Override
  public Keys keys() {
    return Keys.INDEX;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SharedDataset s && s.id().equals(id()) && s.partitions == partitions;
  }

  @Override
  public int hashCode() {
    return Objects.hash(id(), partitions);
  }
}
