package io.graft.finetune.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.GraftException;
import io.graft.core.io.Safetensors;
import io.graft.finetune.transforms.CenterCrop;
import io.graft.finetune.transforms.Compose;
import io.graft.finetune.transforms.Grayscale;
import io.graft.finetune.transforms.Interpolation;
import io.graft.finetune.transforms.Normalize;
import io.graft.finetune.transforms.Resize;
import io.graft.finetune.transforms.Transform;
import io.graft.zoo.weights.Weights;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The evaluation preprocessing of a model: images decoded to {@code channels} (1: luma, 3: RGB), then optionally
 * {@link Grayscale} to {@code grayscale} channels, {@link Resize} ({@code resize}: one value resizes the shorter
 * side, two are height and width; bilinear or bicubic, as {@code torchvision.transforms.Resize} on tensors without
 * antialias), optionally
 * {@link CenterCrop} to {@code crop}, then {@link Normalize} with {@code mean} and {@code std}. It is the one source
 * of both the transform ({@link #transform}) and its record: {@code graft finetune} writes it into
 * {@code model.safetensors}' metadata as {@link #KEY} (a JSON object) and beside it as {@link #FILE}; {@code graft
 * predict --images} and {@code graft eval} read it back ({@link #forWeights}) and build exactly that transform.
 * A recorded size is at most {@link #MAX_SIZE} pixels; a recorded file at most {@link #MAX_FILE_BYTES} bytes.
 */
record Preprocess(int channels, int grayscale, int[] resize, Interpolation interpolation, int crop, float[] mean,
    float[] std) {
  /** The safetensors metadata key that records it. */
  static final String KEY = "graft.preprocess";
  /** The file a run writes beside its weights. */
  static final String FILE = "preprocess.json";
  /** Largest recorded resize or crop side: 16384 pixels. */
  static final int MAX_SIZE = 16384;
  /** Largest {@link #FILE} read: 64 KiB. */
  static final long MAX_FILE_BYTES = 64L << 10;
  private static final ObjectMapper JSON = new ObjectMapper();

  Preprocess {
    java.util.Objects.requireNonNull(interpolation, "interpolation");
    resize = resize.clone();
    mean = mean.clone();
    std = std.clone();
  }

  /** A record that resizes bilinearly (torchvision's default). */
  Preprocess(int channels, int grayscale, int[] resize, int crop, float[] mean, float[] std) {
    this(channels, grayscale, resize, Interpolation.BILINEAR, crop, mean, std);
  }

  /** The transform this record describes. */
  Transform transform() {
    List<Transform> steps = new ArrayList<>();
    if (grayscale > 0) {
      steps.add(new Grayscale(grayscale));
    }
    steps.add(resize.length == 1 ? new Resize(resize[0], interpolation)
        : new Resize(resize[0], resize[1], interpolation));
    if (crop > 0) {
      steps.add(new CenterCrop(crop));
    }
    steps.add(new Normalize(mean, std));
    return Compose.of(steps.toArray(Transform[]::new));
  }

  /** The side of the (square) images the model sees: the crop, else the resize's height. */
  int size() {
    return crop > 0 ? crop : resize[0];
  }

  /** e.g. "1-channel images, Resize(28, 28), Normalize(mean=[0.286], std=[0.353])". */
  String describe() {
    StringBuilder sb = new StringBuilder(channels + "-channel images");
    if (grayscale > 0) {
      sb.append(", Grayscale(").append(grayscale).append(')');
    }
    sb.append(", Resize(").append(resize.length == 1 ? String.valueOf(resize[0]) : resize[0] + ", " + resize[1])
        .append(", ").append(interpolation.torchName()).append(')');
    if (crop > 0) {
      sb.append(", CenterCrop(").append(crop).append(')');
    }
    return sb.append(", Normalize(mean=").append(Arrays.toString(mean)).append(", std=")
        .append(Arrays.toString(std)).append(')').toString();
  }

  /** The record as a JSON object. */
  String toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("input_channels", channels);
    m.put("grayscale_channels", grayscale > 0 ? grayscale : null);
    m.put("resize", resize);
    m.put("interpolation", interpolation.torchName());
    m.put("crop", crop > 0 ? crop : null);
    m.put("mean", mean);
    m.put("std", std);
    try {
      return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(m);
    } catch (JsonProcessingException e) {
      throw new GraftException("cannot encode the preprocessing record: " + e.getMessage(), e);
    }
  }

  /** Parses and checks a record; {@code where} names its file and key in errors. */
  static Preprocess parse(String json, String where) {
    JsonNode n;
    try {
      n = JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new GraftException(where + ": not a JSON preprocessing record (" + e.getOriginalMessage() + ")", e);
    }
    if (n == null || !n.isObject()) {
      throw new GraftException(where + ": not a JSON object: " + json);
    }
    int channels = integer(n, "input_channels", where, false);
    int gray = integer(n, "grayscale_channels", where, true);
    if (channels != 1 && channels != 3 || gray != 0 && gray != 1 && gray != 3) {
      throw new GraftException(where + ": input_channels must be 1 or 3 and grayscale_channels 1, 3 or null; got "
          + channels + " and " + (gray == 0 ? "null" : gray));
    }
    JsonNode r = n.get("resize");
    if (r == null || !r.isArray() || r.size() < 1 || r.size() > 2) {
      throw new GraftException(where + ": 'resize' must be a list of one or two sizes, got " + r);
    }
    int[] resize = new int[r.size()];
    for (int i = 0; i < resize.length; i++) {
      resize[i] = size(r.get(i), "resize", where);
    }
    JsonNode interp = n.get("interpolation");
    if (interp == null || !interp.isTextual()) {
      throw new GraftException(where + ": 'interpolation' must be \"bilinear\" or \"bicubic\", got " + interp);
    }
    Interpolation mode;
    try {
      mode = Interpolation.of(interp.asText());
    } catch (GraftException e) {
      throw new GraftException(where + ": " + e.getMessage(), e);
    }
    JsonNode c = n.get("crop");
    int crop = c == null || c.isNull() ? 0 : size(c, "crop", where);
    int out = gray > 0 ? gray : channels;
    float[] mean = floats(n, "mean", out, where);
    float[] std = floats(n, "std", out, where);
    for (float s : std) {
      if (!(s > 0)) {
        throw new GraftException(where + ": std must be positive, got " + Arrays.toString(std));
      }
    }
    return new Preprocess(channels, gray, resize, mode, crop, mean, std);
  }

  private static int integer(JsonNode n, String key, String where, boolean nullable) {
    JsonNode v = n.get(key);
    if (nullable && (v == null || v.isNull())) {
      return 0;
    }
    if (v == null || !v.isInt()) {
      throw new GraftException(where + ": '" + key + "' must be an integer, got " + v);
    }
    return v.intValue();
  }

  private static int size(JsonNode v, String key, String where) {
    if (v == null || !v.isInt() || v.intValue() < 1 || v.intValue() > MAX_SIZE) {
      throw new GraftException(where + ": '" + key + "' sizes must be integers in 1.." + MAX_SIZE + ", got " + v);
    }
    return v.intValue();
  }

  private static float[] floats(JsonNode n, String key, int count, String where) {
    JsonNode v = n.get(key);
    if (v == null || !v.isArray() || v.size() != count) {
      throw new GraftException(where + ": '" + key + "' must be a list of " + count + " numbers (one per channel), "
          + "got " + v);
    }
    float[] out = new float[count];
    for (int i = 0; i < count; i++) {
      if (!v.get(i).isNumber() || !Float.isFinite(v.get(i).floatValue())) {
        throw new GraftException(where + ": '" + key + "' must hold finite numbers, got " + v);
      }
      out[i] = v.get(i).floatValue();
    }
    return out;
  }

  /** The metadata entry that records it. */
  Map<String, String> metadata() {
    return Map.of(KEY, toJson());
  }

  /** Writes it to {@code dir/preprocess.json}, atomically. */
  void write(Path dir) {
    byte[] bytes = toJson().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    io.graft.core.io.AtomicFiles.write(dir.resolve(FILE), o -> o.write(bytes));
  }

  /**
   * The preprocessing recorded for {@code weights}: its safetensors metadata {@link #KEY}, else a {@link #FILE}
   * beside it; null when neither (weights from elsewhere, or from a Graft that did not record it).
   */
  static Preprocess recorded(Path weights) {
    if (Weights.detect(weights) == Weights.Format.SAFETENSORS) {
      String json = Safetensors.open(weights).metadata().get(KEY);
      if (json != null) {
        return parse(json, weights + " (metadata '" + KEY + "')");
      }
    }
    Path beside = weights.toAbsolutePath().resolveSibling(FILE);
    if (!Files.isRegularFile(beside)) {
      return null;
    }
    try {
      long size = Files.size(beside);
      if (size > MAX_FILE_BYTES) {
        throw new GraftException(beside + ": " + size + " bytes, more than a preprocessing record's "
            + MAX_FILE_BYTES + "-byte cap");
      }
      return parse(Files.readString(beside, java.nio.charset.StandardCharsets.UTF_8), beside.toString());
    } catch (java.io.IOException | java.io.UncheckedIOException e) {
      throw new GraftException(beside + ": cannot read the preprocessing record: " + e.getMessage(), e);
    }
  }

  /**
   * The one rule for the commands that run weights on images: the preprocessing recorded for {@code weights}
   * (null or {@code imagenet}: none); an explicit {@code --image-size} ({@code explicitSize}, null when not given)
   * that differs from the recorded size is refused, naming both. Without a record, null: the caller keeps its
   * default and, with {@code assumed} and {@code err}, prints one warning line naming it.
   */
  static Preprocess forWeights(String weights, Integer explicitSize, Preprocess assumed, PrintWriter err) {
    Preprocess p = weights == null || weights.equals("imagenet") ? null : recorded(Path.of(weights));
    if (p == null) {
      if (assumed != null && err != null) {
        err.println("graft: warning: " + (weights == null ? "the model" : weights) + " has no recorded "
            + "preprocessing (no '" + KEY + "' metadata, no " + FILE + " beside it); assuming " + assumed.describe());
        err.flush();
      }
      return null;
    }
    if (explicitSize != null && explicitSize != p.size()) {
      throw new GraftException("--image-size " + explicitSize + " contradicts the preprocessing recorded with "
          + weights + ": images of " + p.size() + "x" + p.size() + " (" + p.describe() + "); leave out --image-size");
    }
    return p;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Preprocess p && channels == p.channels && grayscale == p.grayscale
        && Arrays.equals(resize, p.resize) && interpolation == p.interpolation && crop == p.crop && Arrays.equals(mean, p.mean)
        && Arrays.equals(std, p.std);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(mean) * 31 + Arrays.hashCode(resize);
  }

  @Override
  public String toString() {
    return "Preprocess[" + describe() + "]";
  }
}
