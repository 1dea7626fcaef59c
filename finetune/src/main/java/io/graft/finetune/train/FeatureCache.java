package io.graft.finetune.train;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.finetune.data.DataLoader;
import io.graft.layers.Dropout;
import io.graft.layers.Module;
import io.graft.layers.StochasticDepth;
import io.graft.layers.norm.BatchNorm;
import io.graft.layers.norm.BatchNormPolicy;
import io.graft.zoo.models.Classifier;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The inputs of a classifier's head for every example of a loader, computed once. When everything before the head
 * is frozen, runs like inference (frozen BatchNorm keeps its statistics, no active dropout or stochastic depth) and
 * the training transforms are deterministic, training the head on these features is exactly training the whole
 * model, at a fraction of the cost: the backbone runs once instead of once per epoch.
 *
 * <p>Features live in memory up to {@code memoryLimitBytes}, beyond that in a memory-mapped temporary file
 * (deleted on {@link #close}).
 */
public final class FeatureCache implements AutoCloseable {
  private final int features;
  private final int count;
  private final float[] memory;
  private final FloatBuffer disk;
  private final Path file;
  private final long[] labels;

  private FeatureCache(int count, int features, long memoryLimitBytes) throws IOException {
    this.count = count;
    this.features = features;
    this.labels = new long[count];
    long bytes = (long) count * features * 4;
    if (bytes <= memoryLimitBytes && (long) count * features < Integer.MAX_VALUE - 8) {
      memory = new float[count * features];
      disk = null;
      file = null;
    } else {
      if (bytes > Integer.MAX_VALUE) {
        throw new GraftException("feature cache of " + bytes + " bytes exceeds the 2 GiB mapping limit");
      }
      memory = null;
      file = Files.createTempFile("graft-features-", ".bin");
      file.toFile().deleteOnExit();
      try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
        raf.setLength(bytes);
        disk = raf.getChannel().map(FileChannel.MapMode.READ_WRITE, 0, bytes).order(ByteOrder.nativeOrder())
            .asFloatBuffer();
      }
    }
  }

  /**
   * Why features of {@code model} cannot be cached for training, or null when they can: the head must be the only
   * trainable part, the backbone must behave as in inference, and the transform must be deterministic.
   */
  public static String ineligibility(Module model, DataLoader train) {
    if (!(model instanceof Classifier c)) {
      return "the model has no known head";
    }
    String head = c.headPath();
    for (Map.Entry<String, Parameter> e : model.namedParameters().entrySet()) {
      if (!e.getKey().startsWith(head + ".") && e.getValue().requiresGrad()) {
        return "'" + e.getKey() + "' is trainable";
      }
    }
    for (Map.Entry<String, Module> e : model.namedModules().entrySet()) {
      if (e.getKey().equals(head) || e.getKey().startsWith(head + ".")) {
        continue;
      }
      Module m = e.getValue();
      if (m instanceof Dropout d && d.p() > 0) {
        return "dropout '" + e.getKey() + "' before the head is random in training mode";
      }
      if (m instanceof StochasticDepth sd && sd.p() > 0) {
        return "stochastic depth '" + e.getKey() + "' before the head is random in training mode";
      }
      if (m instanceof BatchNorm bn && (bn.weight() == null || bn.policy() != BatchNormPolicy.FREEZE_STATS)) {
        return "BatchNorm '" + e.getKey() + "' would update its statistics in training mode";
      }
    }
    if (train.transform() != null && !train.transform().deterministic()) {
      return "the training transforms are random";
    }
    return null;
  }

  /**
   * Runs the backbone once over every example of {@code loader}'s dataset (eval mode, no gradients; in file order,
   * whatever the loader's shuffling and drop_last, which later epochs apply to the cached features) and stores the
   * head's inputs.
   */
  public static FeatureCache build(Module model, DataLoader loader, long memoryLimitBytes) {
    Classifier c = (Classifier) model;
    boolean wasTraining = model.isTraining();
    FeatureCache cache = null;
    try (DataLoader all = new DataLoader(loader.dataset(), loader.transform(),
             loader.options().withShuffle(false).withDropLast(false));
         var g = GradMode.disabled()) {
      model.eval();
      int n = loader.dataset().size();
      int f = Math.toIntExact(c.numFeatures());
      cache = new FeatureCache(n, f, memoryLimitBytes);
      for (DataLoader.Batch b : all.epoch(0)) {
        float[] feats = headInputs(model, b.x());
        long[] y = b.y().toLongArray();
        for (int i = 0; i < b.size(); i++) {
          cache.put(b.indices()[i], feats, i * f, y[i]);
        }
      }
      return cache;
    } catch (IOException e) {
      throw new GraftException("feature cache: cannot create its file: " + e.getMessage(), e);
    } catch (Exception e) {
      if (cache != null) {
        cache.close();
      }
      throw e instanceof RuntimeException r ? r : new GraftException("feature cache: " + e, e);
    } finally {
      model.train(wasTraining);
    }
  }

  /**
   * The features of one batch {@code x}: the inputs of {@code model}'s head, {@code (N, F)} floats row by row,
   * captured by a forward hook on the head while the whole model runs. {@code model} (a {@link Classifier}) runs as it
   * is: the caller puts it in eval mode and disables gradients. The one definition of a feature, shared by
   * {@link #build} and graft-spark's distributed extraction, so both give the same numbers.
   */
  public static float[] headInputs(Module model, Tensor x) {
    if (!(model instanceof Classifier c)) {
      throw new GraftException("features: " + model.getClass().getSimpleName() + " has no known head");
    }
    Tensor[] captured = new Tensor[1];
    try (AutoCloseable hook = c.head().addForwardHook((m, in, out) -> captured[0] = in)) {
      model.call(x);
    } catch (Exception e) {
      throw e instanceof RuntimeException r ? r : new GraftException("features: " + e, e);
    }
    return captured[0].reshape(x.shape()[0], c.numFeatures()).toFloatArray();
  }

  /**
   * An empty cache for {@code count} examples of {@code features} values each, to be filled with {@link #put} by a
   * caller that computed the features elsewhere (graft-spark's distributed extraction); in memory up to {@code
   * memoryLimitBytes}, beyond that in a memory-mapped temporary file, as {@link #build}. Throws {@link GraftException}
   * for a non-positive size or one over the 2 GiB mapping limit.
   */
  public static FeatureCache empty(int count, int features, long memoryLimitBytes) {
    if (count < 1 || features < 1) {
      throw new GraftException("feature cache: count and features must be positive, got " + count + " and "
          + features);
    }
    try {
      return new FeatureCache(count, features, memoryLimitBytes);
    } catch (IOException e) {
      throw new GraftException("feature cache: cannot create its file: " + e.getMessage(), e);
    }
  }

  /**
   * Stores example {@code index}'s features, {@code src[offset, offset + features())}, and its label; throws
   * {@link GraftException} for an index outside {@code [0, size())} or a source too short.
   */
  public void put(int index, float[] src, int offset, long label) {
    if (index < 0 || index >= count || offset < 0 || offset > src.length - features) {
      throw new GraftException("feature cache: example " + index + " (of " + count + ") with " + features
          + " features at offset " + offset + " of " + src.length + " values is out of range");
    }
    if (memory != null) {
      System.arraycopy(src, offset, memory, index * features, features);
    } else {
      disk.put(index * features, src, offset, features);
    }
    labels[index] = label;
  }

  /** The features {@code (n, F)} and labels {@code (n)} of the given example indices. */
  public Tensor[] batch(int[] indices) {
    float[] x = new float[indices.length * features];
    long[] y = new long[indices.length];
    for (int i = 0; i < indices.length; i++) {
      if (memory != null) {
        System.arraycopy(memory, indices[i] * features, x, i * features, features);
      } else {
        disk.get(indices[i] * features, x, i * features, features);
      }
      y[i] = labels[indices[i]];
    }
    return new Tensor[] {Tensor.fromArray(x, indices.length, features), Tensor.fromArray(y, indices.length)};
  }

  /** The number of cached examples. */
  public int size() {
    return count;
  }

  /** The length of each feature vector: the head's {@code in_features}. */
  public int features() {
    return features;
  }

  /** Whether the features did not fit the memory limit and live in the memory-mapped temporary file. */
  public boolean onDisk() {
    return memory == null;
  }

  @Override
  public void close() {
    if (file != null) {
      try {
        Files.deleteIfExists(file);
      } catch (IOException ignored) {
        // deleteOnExit is registered too
      }
    }
  }
}
