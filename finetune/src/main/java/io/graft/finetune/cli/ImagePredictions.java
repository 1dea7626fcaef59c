package io.graft.finetune.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.AtomicFiles;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.data.ImageFiles;
import io.graft.finetune.transforms.Transform;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * {@code graft predict --images}: the top-k classes of each image, with probabilities (softmax of the logits, as
 * {@code torch.softmax(logits, 1)}), computed a batch at a time, so memory holds one batch of images and k
 * predictions per image. Classes of equal probability are ranked by index. {@link #top} is public: graft-spark's
 * batch inference ranks classes with it too. Written to {@code --out} as CSV
 * (a header, then one row per image: {@code path, class_1, probability_1, ..., class_k, probability_k}) or JSON
 * (a list of {@code {"path", "predictions": [{"class", "index", "probability"}, ...]}}), by its extension.
 */
public final class ImagePredictions {
  /** One image's top-k: class indices and their probabilities, most probable first. */
  public record Row(Path file, int[] classes, double[] probabilities) {}

  private ImagePredictions() {}

  /**
   * The top-{@code k} predictions of {@code forward} (a model in eval mode) for every image of {@code images},
   * preprocessed with {@code transform}, {@code batchSize} images at a time; the model must give one logit per class
   * name of {@code images}.
   */
  static List<Row> run(Function<Tensor, Tensor> forward, ImageFiles images, Transform transform, int batchSize, int k,
      String what) {
    List<Row> rows = new ArrayList<>();
    int classes = images.classes().size();
    try (DataLoader loader = new DataLoader(images, transform, DataLoader.Options.batch(batchSize));
         var g = GradMode.disabled()) {
      for (DataLoader.Batch b : loader.epoch(0)) {
        Tensor logits = forward.apply(b.x());
        if (logits.rank() != 2 || logits.shape()[0] != b.size()) {
          throw new GraftException(what + ": the model's output has shape " + Arrays.toString(logits.shape())
              + ", not (images, classes) for " + b.size() + " images");
        }
        if (logits.shape()[1] != classes) {
          throw new GraftException(what + ": the model has " + logits.shape()[1] + " outputs, but there are "
              + classes + " class names " + images.classes());
        }
        float[] v = logits.toFloatArray();
        for (int i = 0; i < b.size(); i++) {
          rows.add(top(images.files().get(b.indices()[i]), v, i * classes, classes, k));
        }
      }
    }
    return rows;
  }

  /** Softmax over {@code v[off, off + n)} in double (max subtracted first), and its {@code k} most probable classes. */
  public static Row top(Path file, float[] v, int off, int n, int k) {
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < n; j++) {
      max = Math.max(max, v[off + j]);
    }
    double[] p = new double[n];
    double sum = 0;
    for (int j = 0; j < n; j++) {
      p[j] = Math.exp(v[off + j] - max);
      sum += p[j];
    }
    Integer[] order = new Integer[n];
    for (int j = 0; j < n; j++) {
      p[j] /= sum;
      order[j] = j;
    }
    Arrays.sort(order, (a, b) -> p[a] != p[b] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
    int kk = Math.min(k, n);
    int[] idx = new int[kk];
    double[] prob = new double[kk];
    for (int r = 0; r < kk; r++) {
      idx[r] = order[r];
      prob[r] = p[order[r]];
    }
    return new Row(file, idx, prob);
  }

  /** One line per image: its path, then each class and probability. */
  static void print(List<Row> rows, List<String> names, PrintWriter out) {
    for (Row r : rows) {
      StringBuilder sb = new StringBuilder(r.file().toString()).append(':');
      for (int j = 0; j < r.classes().length; j++) {
        sb.append(j == 0 ? " " : ", ").append(names.get(r.classes()[j]))
            .append(String.format(Locale.ROOT, " %.4f", r.probabilities()[j]));
      }
      out.println(sb);
    }
    out.flush();
  }

  /** Writes {@code rows} to {@code file} as CSV or JSON, by its extension (checked with {@link #format}). */
  static void write(Path file, List<Row> rows, List<String> names) {
    byte[] bytes;
    if (format(file).equals("csv")) {
      int k = rows.stream().mapToInt(r -> r.classes().length).max().orElse(0);
      StringBuilder sb = new StringBuilder("path");
      for (int j = 1; j <= k; j++) {
        sb.append(",class_").append(j).append(",probability_").append(j);
      }
      sb.append('\n');
      for (Row r : rows) {
        sb.append(csv(r.file().toString()));
        for (int j = 0; j < r.classes().length; j++) {
          sb.append(',').append(csv(names.get(r.classes()[j]))).append(',').append(r.probabilities()[j]);
        }
        sb.append('\n');
      }
      bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
    } else {
      List<Map<String, Object>> out = new ArrayList<>();
      for (Row r : rows) {
        List<Map<String, Object>> preds = new ArrayList<>();
        for (int j = 0; j < r.classes().length; j++) {
          Map<String, Object> p = new LinkedHashMap<>();
          p.put("class", names.get(r.classes()[j]));
          p.put("index", r.classes()[j]);
          p.put("probability", r.probabilities()[j]);
          preds.add(p);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("path", r.file().toString());
        m.put("predictions", preds);
        out.add(m);
      }
      try {
        bytes = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(out);
      } catch (IOException e) {
        throw new GraftException(file + ": cannot encode predictions: " + e.getMessage(), e);
      }
    }
    byte[] b = bytes;
    AtomicFiles.write(file, o -> o.write(b));
  }

  /** {@code csv} or {@code json}, from the output file's extension; another extension is refused. */
  static String format(Path file) {
    String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
    if (n.endsWith(".csv")) {
      return "csv";
    }
    if (n.endsWith(".json")) {
      return "json";
    }
    throw new GraftException("--out " + file + ": predictions on images are written as .csv or .json (by the "
        + "file's extension)");
  }

  /** A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180). */
  static String csv(String s) {
    if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
      return s;
    }
    return '"' + s.replace("\"", "\"\"") + '"';
  }
}
