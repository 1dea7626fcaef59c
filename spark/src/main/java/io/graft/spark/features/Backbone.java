package io.graft.spark.features;

import io.graft.core.GraftException;
import io.graft.finetune.cli.ModelLoading;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * The frozen model that runs on the executors, as a recipe: a zoo architecture with a weights file (any format
 * {@code graft} reads), or an ONNX graph with optional fine-tuned head weights. The driver reads the files once and
 * broadcasts their bytes, so executors need no shared path for them; each executor JVM builds models from them
 * through {@link ExecutorModels}, keyed by the files' SHA-256 ({@link #key()}). Build it with {@link #zoo} or
 * {@link #onnx}; it is serializable (the broadcast handles, the names and the key).
 *
 * <p>A weights file is at most {@link #MAX_FILE_BYTES} bytes (one broadcast byte array).
 */
public final class Backbone implements Serializable {
  private static final long serialVersionUID = 1L;
  /** Largest model file broadcast: 2 GiB less 16 bytes, the largest Java byte array. */
  public static final long MAX_FILE_BYTES = Integer.MAX_VALUE - 16L;

  private final String model;
  private final Integer numClasses;
  private final String weightsName;
  private final Broadcast<byte[]> weights;
  private final String onnxName;
  private final Broadcast<byte[]> onnx;
  private final String key;

  private Backbone(String model, Integer numClasses, String weightsName, Broadcast<byte[]> weights, String onnxName,
      Broadcast<byte[]> onnx, String key) {
    this.model = model;
    this.numClasses = numClasses;
    this.weightsName = weightsName;
    this.weights = weights;
    this.onnxName = onnxName;
    this.onnx = onnx;
    this.key = key;
  }

  /**
   * Zoo architecture {@code model} with the weights in {@code weights}, its head sized as in the file (or {@code
   * numClasses} when not null), loaded strictly, as {@code graft predict --model --weights} loads it. The driver builds
   * it once to check the pair before anything is broadcast.
   */
  public static Backbone zoo(JavaSparkContext sc, String model, Path weights, Integer numClasses) {
    if (!Zoo.names().contains(model)) {
      throw new GraftException("unknown model '" + model + "'; known: " + Zoo.names());
    }
    ModelLoading.load(model, weights, numClasses); // fails here, on the driver, naming the file
    byte[] w = read(weights);
    return new Backbone(model, numClasses, weights.getFileName().toString(), sc.broadcast(w), null, null,
        model + ":" + numClasses + ":" + sha256(w));
  }

  /**
   * The ONNX graph in {@code onnx} as a classifier (its last Gemm is the head), with the fine-tuned weights {@code
   * weights} ({@code graft finetune --onnx}'s safetensors) when not null.
   */
  public static Backbone onnx(JavaSparkContext sc, Path onnx, Path weights) {
    ModelLoading.loadOnnx(onnx, weights);
    byte[] g = read(onnx);
    byte[] w = weights == null ? null : read(weights);
    return new Backbone(null, null, weights == null ? null : weights.getFileName().toString(),
        w == null ? null : sc.broadcast(w), onnx.getFileName().toString(), sc.broadcast(g),
        "onnx:" + sha256(g) + ":" + (w == null ? "-" : sha256(w)));
  }

  /** The model files' identity: architecture, head size and the SHA-256 of every file. */
  public String key() {
    return key;
  }

  /** e.g. {@code smallcnn (weights.safetensors)}, for messages and the manifest. */
  public String describe() {
    return model != null ? model + " (" + weightsName + ")"
        : "onnx:" + onnxName + (weightsName == null ? "" : " (" + weightsName + ")");
  }

  /**
   * A new model instance built from the broadcast bytes (in eval mode), on an executor: the files are written once
   * per JVM to {@code dir} under names made of their hash, then loaded as on the driver.
   */
  Module build(Path dir) {
    Path w = weights == null ? null : materialise(dir, weights.value(), weightsName);
    Module m;
    if (model != null) {
      m = ModelLoading.load(model, w, numClasses);
    } else {
      m = ModelLoading.loadOnnx(materialise(dir, onnx.value(), onnxName), w);
    }
    m.eval();
    return m;
  }

  private static Path materialise(Path dir, byte[] bytes, String name) {
    Path p = dir.resolve(sha256(bytes) + "-" + name);
    if (!Files.isRegularFile(p)) {
      io.graft.core.io.AtomicFiles.write(p, o -> o.write(bytes));
    }
    return p;
  }

  private static byte[] read(Path file) {
    try {
      long size = Files.size(file);
      if (size > MAX_FILE_BYTES) {
        throw new GraftException(file + ": " + size + " bytes, more than the " + MAX_FILE_BYTES + "-byte cap on a "
            + "broadcast model file");
      }
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new GraftException(file + ": cannot read: " + e.getMessage(), e);
    }
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
