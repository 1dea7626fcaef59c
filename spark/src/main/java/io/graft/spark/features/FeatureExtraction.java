package io.graft.spark.features;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.AtomicFiles;
import io.graft.core.io.Safetensors;
import io.graft.finetune.train.FeatureCache;
import io.graft.finetune.transforms.Transform;
import io.graft.spark.SparkJobs;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;

/**
 * Distributed feature extraction: a frozen {@link Backbone} runs over an {@link ImageSource} on Spark and the
 * inputs of its head ({@link FeatureCache#headInputs}, the single-process cache's own definition) are written as
 * sharded safetensors to a folder on storage that the executors and the driver share (any local path on {@code
 * local[N]}). Then {@link FeatureShards} reads them back into a {@link FeatureCache}, and the driver trains the head
 * on it with {@code Trainer.withFeatures}.
 *
 * <p>Each task writes its partition as shards {@code part-PPPPP-SSS.safetensors} of at most {@link #MAX_SHARD_ROWS}
 * rows: tensors {@code features} (rows, F) float32, {@code labels} (rows) int64 (-1: unlabelled) and {@code indices}
 * (rows) int64 (the dataset index, -1 for path-keyed sources), and for path-keyed sources the paths in the metadata
 * entry {@link #KEYS} (a JSON list). Every shard is written atomically (temporary file, rename); a retried task
 * rewrites its shards with the same contents. The driver writes {@link #MANIFEST} last (atomically, listing every
 * shard with its rows and SHA-256); a folder without it is an unfinished run. A run first deletes the previous
 * run's manifest and shards. Memory per task: one batch of images and one shard of features.
 */
public final class FeatureExtraction {
  /** The manifest's file name. */
  public static final String MANIFEST = "manifest.json";
  /** The shards' metadata key holding their samples' paths. */
  public static final String KEYS = "graft.keys";
  /** Rows per shard file at most: 16384 (a task holds one shard of features in memory). */
  public static final int MAX_SHARD_ROWS = 16384;
  /** The manifest's {@code format} value. */
  public static final String FORMAT = "graft-features/1";

  private FeatureExtraction() {}

  /** One written shard, as the task reports it to the driver. */
  record Shard(String file, int rows, int features, String sha256) implements Serializable {}

  /**
   * Extracts the features of every image of {@code source} with {@code backbone}, preprocessed by {@code transform}
   * (deterministic; null: none), {@code batchSize} images per forward pass, into the folder {@code out}; returns the
   * written shards, opened. A bad image fails the job with a {@link GraftException} naming its file.
   */
  public static FeatureShards run(SparkSession spark, ImageSource source, Backbone backbone, Transform transform,
      Path out, int batchSize) {
    if (batchSize < 1) {
      throw new GraftException("feature extraction: batch size must be positive, got " + batchSize);
    }
    if (transform != null && !transform.deterministic()) {
      throw new GraftException("feature extraction: the transform " + transform + " is random; features are "
          + "computed once, so it must be deterministic");
    }
    Path dir = AtomicFiles.directory(out.toAbsolutePath(), "features");
    clean(dir);
    String where = dir.toString();
    List<Shard> shards = SparkJobs.run("feature extraction", () -> source.samples(spark)
        .mapPartitionsWithIndex((p, it) -> {
          ShardWriter w = new ShardWriter(where, p, source.keys() == ImageSource.Keys.PATH);
          PartitionBatches.run(it, source, backbone, transform, batchSize, (model, samples, x, labels) ->
              w.add(samples, FeatureCache.headInputs(model, x), labels));
          return w.finish().iterator();
        }, false).collect());
    writeManifest(dir, shards, source, backbone);
    return FeatureShards.open(dir);
  }

  /** Deletes a previous run's manifest (first) and shards. */
  private static void clean(Path dir) {
    try {
      Files.deleteIfExists(dir.resolve(MANIFEST));
      try (Stream<Path> old = Files.list(dir)) {
        for (Path p : old.filter(p -> p.getFileName().toString().matches("part-\\d+-\\d+\\.safetensors")).toList()) {
          Files.delete(p);
        }
      }
    } catch (IOException e) {
      throw new GraftException(dir + ": cannot clear the previous features: " + e.getMessage(), e);
    }
  }

  private static void writeManifest(Path dir, List<Shard> shards, ImageSource source, Backbone backbone) {
    List<Shard> sorted = new ArrayList<>(shards);
    sorted.sort((a, b) -> a.file().compareTo(b.file()));
    long count = 0;
    int f = -1;
    List<Map<String, Object>> list = new ArrayList<>();
    for (Shard s : sorted) {
      if (f >= 0 && s.features() != f) {
        throw new GraftException(dir + ": shards of " + f + " and " + s.features() + " features");
      }
      f = s.features();
      count += s.rows();
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("file", s.file());
      m.put("rows", s.rows());
      m.put("sha256", s.sha256());
      list.add(m);
    }
    if (count == 0) {
      throw new GraftException("feature extraction: the source has no images");
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("format", FORMAT);
    m.put("backbone", backbone.describe());
    m.put("backbone_key", backbone.key());
    m.put("keys", source.keys().name().toLowerCase(java.util.Locale.ROOT));
    m.put("count", count);
    m.put("features", f);
    m.put("classes", source.classes());
    m.put("shards", list);
    try {
      byte[] json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(m);
      AtomicFiles.write(dir.resolve(MANIFEST), o -> o.write(json));
    } catch (IOException e) {
      throw new GraftException(dir + ": cannot encode the manifest: " + e.getMessage(), e);
    }
  }

  /** A task's shards: rows gathered up to {@link #MAX_SHARD_ROWS}, then written. */
  private static final class ShardWriter {
    private final String dir;
    private final int partition;
    private final boolean paths;
    private final List<Shard> written = new ArrayList<>();
    private float[] feats = new float[0];
    private long[] labels = new long[0];
    private long[] indices = new long[0];
    private final List<String> keys = new ArrayList<>();
    private int rows;
    private int f = -1;

    ShardWriter(String dir, int partition, boolean paths) {
      this.dir = dir;
      this.partition = partition;
      this.paths = paths;
    }

    void add(List<Sample> samples, float[] x, long[] y) {
      int n = samples.size();
      int width = x.length / n;
      if (f < 0) {
        f = width;
      }
      for (int i = 0; i < n; i++) {
        if (rows == MAX_SHARD_ROWS) {
          flush();
        }
        if (rows == labels.length) {
          int cap = Math.min(MAX_SHARD_ROWS, Math.max(64, rows * 2));
          feats = Arrays.copyOf(feats, cap * f);
          labels = Arrays.copyOf(labels, cap);
          indices = Arrays.copyOf(indices, cap);
        }
        System.arraycopy(x, i * f, feats, rows * f, f);
        labels[rows] = y[i];
        indices[rows] = samples.get(i).index();
        if (paths) {
          keys.add(samples.get(i).key());
        }
        rows++;
      }
    }

    private void flush() {
      if (rows == 0) {
        return;
      }
      String name = String.format(java.util.Locale.ROOT, "part-%05d-%03d.safetensors", partition, written.size());
      StateDict sd = new StateDict();
      sd.put("features", Tensor.fromArray(Arrays.copyOf(feats, rows * f), rows, f));
      sd.put("labels", Tensor.fromArray(Arrays.copyOf(labels, rows), rows));
      sd.put("indices", Tensor.fromArray(Arrays.copyOf(indices, rows), rows));
      Map<String, String> meta = new LinkedHashMap<>();
      try {
        if (paths) {
          meta.put(KEYS, new ObjectMapper().writeValueAsString(keys));
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Safetensors.write(bytes, sd, meta);
        byte[] b = bytes.toByteArray();
        AtomicFiles.write(Path.of(dir, name), o -> o.write(b));
        written.add(new Shard(name, rows, f, Backbone.sha256(b)));
      } catch (IOException e) {
        throw new GraftException(Path.of(dir, name) + ": cannot write: " + e.getMessage(), e);
      }
      rows = 0;
      keys.clear();
    }

    List<Shard> finish() {
      flush();
      return written;
    }
  }
}
