package io.graft.spark.features;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.finetune.train.FeatureCache;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * The features a {@link FeatureExtraction} run wrote, opened from its folder: the manifest is read and checked
 * (format, counts, one feature length), and {@link #toCache} reads every shard, checking its SHA-256, its shapes and
 * that the shards hold every sample exactly once, into a {@link FeatureCache} for {@code Trainer.withFeatures}. A
 * manifest is at most {@link #MAX_MANIFEST_BYTES} bytes.
 */
public final class FeatureShards {
  /** Largest manifest read: 64 MiB. */
  public static final long MAX_MANIFEST_BYTES = 64L << 20;

  private final Path dir;
  private final int count;
  private final int features;
  private final List<String> classes;
  private final ImageSource.Keys keys;
  private final String backbone;
  private final List<String> files = new ArrayList<>();
  private final List<Integer> rows = new ArrayList<>();
  private final List<String> hashes = new ArrayList<>();

  private FeatureShards(Path dir, JsonNode m) {
    this.dir = dir;
    String where = dir.resolve(FeatureExtraction.MANIFEST).toString();
    if (!FeatureExtraction.FORMAT.equals(m.path("format").asText())) {
      throw new GraftException(where + ": format " + m.get("format") + ", expected " + FeatureExtraction.FORMAT);
    }
    long n = m.path("count").asLong(-1);
    int f = m.path("features").asInt(-1);
    if (n < 1 || n > Integer.MAX_VALUE - 8 || f < 1) {
      throw new GraftException(where + ": count " + m.get("count") + " and features " + m.get("features")
          + " must be positive (count below 2^31)");
    }
    this.count = (int) n;
    this.features = f;
    this.backbone = m.path("backbone").asText();
    String k = m.path("keys").asText();
    this.keys = k.equals("path") ? ImageSource.Keys.PATH : k.equals("index") ? ImageSource.Keys.INDEX : null;
    if (keys == null) {
      throw new GraftException(where + ": keys must be \"index\" or \"path\", got " + m.get("keys"));
    }
    this.classes = new ObjectMapper().convertValue(m.path("classes"), new TypeReference<List<String>>() {});
    long total = 0;
    for (JsonNode s : m.path("shards")) {
      String file = s.path("file").asText();
      if (!file.matches("part-\\d+-\\d+\\.safetensors")) {
        throw new GraftException(where + ": shard name '" + file + "' is not part-N-M.safetensors");
      }
      int r = s.path("rows").asInt(-1);
      if (r < 1) {
        throw new GraftException(where + ": shard " + file + " has rows " + s.get("rows"));
      }
      files.add(file);
      rows.add(r);
      hashes.add(s.path("sha256").asText());
      total += r;
    }
    if (total != count) {
      throw new GraftException(where + ": the shards hold " + total + " rows, the manifest's count is " + count);
    }
  }

  /** Opens the features in {@code dir}; throws {@link GraftException} when it has no valid manifest. */
  public static FeatureShards open(Path dir) {
    Path manifest = dir.resolve(FeatureExtraction.MANIFEST);
    try {
      if (!Files.isRegularFile(manifest)) {
        throw new GraftException(dir + ": no " + FeatureExtraction.MANIFEST + " (not a feature folder, or its "
            + "extraction did not finish)");
      }
      long size = Files.size(manifest);
      if (size > MAX_MANIFEST_BYTES) {
        throw new GraftException(manifest + ": " + size + " bytes, more than the " + MAX_MANIFEST_BYTES
            + "-byte cap on a manifest");
      }
      return new FeatureShards(dir, new ObjectMapper().readTree(Files.readAllBytes(manifest)));
    } catch (IOException e) {
      throw new GraftException(manifest + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** The number of samples. */
  public int count() {
    return count;
  }

  /** The length of each feature vector (the head's {@code in_features}). */
  public int features() {
    return features;
  }

  /** The source's class names, by label. */
  public List<String> classes() {
    return classes;
  }

  /** Whether the samples are keyed by dataset index or by path. */
  public ImageSource.Keys keys() {
    return keys;
  }

  /** The backbone that computed them, as {@link Backbone#describe()} wrote it. */
  public String backbone() {
    return backbone;
  }

  /**
   * Index-keyed features as a cache whose example {@code i} is dataset index {@code i}; throws {@link GraftException}
   * for path-keyed features, a damaged shard, or an index missing, repeated or out of range.
   */
  public FeatureCache toCache(long memoryLimitBytes) {
    if (keys != ImageSource.Keys.INDEX) {
      throw new GraftException(dir + ": the features are keyed by path; give the paths in dataset order");
    }
    return fill(null, memoryLimitBytes);
  }

  /**
   * Path-keyed features as a cache whose example {@code i} is the sample with key {@code order.get(i)} (e.g. an
   * ImageFolder's files in order, as absolute paths); throws {@link GraftException} unless the keys are exactly the
   * shards' keys, each once.
   */
  public FeatureCache toCache(List<String> order, long memoryLimitBytes) {
    if (keys != ImageSource.Keys.PATH) {
      throw new GraftException(dir + ": the features are keyed by dataset index; use toCache(memoryLimitBytes)");
    }
    if (order.size() != count) {
      throw new GraftException(dir + ": " + count + " samples, but " + order.size() + " keys were given");
    }
    Map<String, Integer> at = new HashMap<>();
    for (int i = 0; i < order.size(); i++) {
      if (at.put(order.get(i), i) != null) {
        throw new GraftException("key " + order.get(i) + " is given twice");
      }
    }
    return fill(at, memoryLimitBytes);
  }

  private FeatureCache fill(Map<String, Integer> at, long memoryLimitBytes) {
    FeatureCache cache = FeatureCache.empty(count, features, memoryLimitBytes);
    boolean[] seen = new boolean[count];
    try {
      for (int s = 0; s < files.size(); s++) {
        Path file = dir.resolve(files.get(s));
        String hash = sha256(file);
        if (!hash.equals(hashes.get(s))) {
          throw new GraftException(file + ": SHA-256 " + hash + " differs from the manifest's " + hashes.get(s)
              + " (a shard of another run, or damaged)");
        }
        Safetensors.File st = Safetensors.open(file);
        int r = rows.get(s);
        Tensor x = st.tensor("features");
        Tensor y = st.tensor("labels");
        Tensor idx = st.tensor("indices");
        if (!Arrays.equals(x.shape(), new long[] {r, features}) || !Arrays.equals(y.shape(), new long[] {r})
            || !Arrays.equals(idx.shape(), new long[] {r})) {
          throw new GraftException(file + ": features " + Arrays.toString(x.shape()) + ", labels "
              + Arrays.toString(y.shape()) + ", indices " + Arrays.toString(idx.shape()) + "; the manifest says "
              + r + " rows of " + features);
        }
        float[] v = x.toFloatArray();
        long[] labels = y.toLongArray();
        long[] indices = idx.toLongArray();
        List<String> names = null;
        if (at != null) {
          String json = st.metadata().get(FeatureExtraction.KEYS);
          names = json == null ? null : new ObjectMapper().readValue(json, new TypeReference<List<String>>() {});
          if (names == null || names.size() != r) {
            throw new GraftException(file + ": metadata '" + FeatureExtraction.KEYS + "' must list " + r + " paths");
          }
        }
        for (int i = 0; i < r; i++) {
          long k;
          if (at == null) {
            k = indices[i];
          } else {
            Integer j = at.get(names.get(i));
            if (j == null) {
              throw new GraftException(file + ": sample " + names.get(i) + " is not among the keys given");
            }
            k = j;
          }
          String name = at == null ? "index " + k : names.get(i);
          if (k < 0 || k >= count || seen[(int) k]) {
            throw new GraftException(file + ": " + name + (k < 0 || k >= count ? " is out of range (" + count
                + " samples)" : " appears twice"));
          }
          seen[(int) k] = true;
          cache.put((int) k, v, i * features, labels[i]);
        }
      }
      return cache;
    } catch (IOException | RuntimeException e) {
      cache.close();
      throw e instanceof GraftException g ? g : new GraftException(dir + ": cannot read the features: " + e, e);
    }
  }

  private static String sha256(Path file) throws IOException {
    try (InputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
      byte[] buf = new byte[1 << 16];
      while (in.read(buf) >= 0) {
        // digesting
      }
      return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
