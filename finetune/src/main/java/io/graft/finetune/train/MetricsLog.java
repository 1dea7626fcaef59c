package io.graft.finetune.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.graft.core.GraftException;
import io.graft.core.io.AtomicFiles;
import io.graft.core.io.JsonFields;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The per-epoch metrics log: one JSON object per line, rewritten atomically after every epoch, and the same table as
 * CSV beside it ({@link #csvPath}: {@code metrics.jsonl} gives {@code metrics.csv}), rewritten atomically with it.
 * Epochs are numbered from 1, as on screen ({@link EpochStats#epoch()} counts from 0).
 *
 * <p>The CSV has a header row and one row per epoch: {@code epoch, train_loss, train_accuracy, val_loss,
 * val_accuracy, val_top5}, the learning rate ({@code lr} with one parameter group, {@code lr_0, lr_1, ...} with
 * several: one column per group), {@code seconds, images_per_second, feature_cache}. A value that does not exist
 * (no validation set) is an empty cell; numbers are written as Java prints a double, which reads back exactly.
 * Per-class accuracies and confusion matrices are in the JSON lines only.
 */
public final class MetricsLog {
  private MetricsLog() {}

  static List<Map<String, Object>> toJson(List<EpochStats> history) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (EpochStats s : history) {
      out.add(line(s));
    }
    return out;
  }

  /**
   * One epoch as a JSON object: epoch (from 1), train and validation loss and accuracy and validation top-5 (null
   * without validation), per-class accuracies and the confusion matrix when validated, the learning rates, timing and
   * whether the feature cache was used.
   */
  public static Map<String, Object> line(EpochStats s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("epoch", s.epoch() + 1);
    m.put("train_loss", s.trainLoss());
    m.put("train_accuracy", s.trainAccuracy());
    m.put("val_loss", nan(s.valLoss()));
    m.put("val_accuracy", nan(s.valAccuracy()));
    m.put("val_top5", nan(s.valTop5()));
    if (s.valPerClassAccuracy() != null) {
      List<Object> perClass = new ArrayList<>();
      for (double d : s.valPerClassAccuracy()) {
        perClass.add(nan(d));
      }
      m.put("val_per_class_accuracy", perClass);
      List<List<Long>> confusion = new ArrayList<>();
      for (long[] row : s.valConfusion()) {
        confusion.add(java.util.Arrays.stream(row).boxed().toList());
      }
      m.put("val_confusion", confusion);
    }
    List<Double> lr = new ArrayList<>();
    for (double d : s.lr()) {
      lr.add(d);
    }
    m.put("lr", lr);
    m.put("seconds", s.seconds());
    m.put("images_per_second", s.imagesPerSecond());
    m.put("feature_cache", s.cached());
    return m;
  }

  private static Object nan(double d) {
    return Double.isNaN(d) ? null : d;
  }

  /**
   * Parses a history written by {@link #toJson}, checking every field ({@code where} names the file); its epochs
   * are numbered from {@code base} (1 since epochs are numbered as on screen; 0 in older checkpoints).
   */
  static List<EpochStats> fromJson(List<?> entries, int base, String where) {
    List<EpochStats> out = new ArrayList<>();
    for (int i = 0; i < entries.size(); i++) {
      String w = where + ", history entry " + i;
      Map<String, Object> m = JsonFields.map(entries.get(i), "history[" + i + "]", where);
      double[] perClass = null;
      long[][] confusion = null;
      if (m.get("val_per_class_accuracy") != null || m.get("val_confusion") != null) {
        List<?> pc = JsonFields.list(m, "val_per_class_accuracy", w);
        perClass = new double[pc.size()];
        for (int k = 0; k < perClass.length; k++) { // null: a class without examples
          perClass[k] = pc.get(k) == null ? Double.NaN
              : JsonFields.number(pc.get(k), "val_per_class_accuracy[" + k + "]", false, w);
        }
        List<?> rows = JsonFields.list(m, "val_confusion", w);
        if (rows.size() != perClass.length) {
          throw new GraftException(w + ": val_confusion has " + rows.size() + " rows for " + perClass.length
              + " classes");
        }
        confusion = new long[rows.size()][];
        for (int r = 0; r < confusion.length; r++) {
          List<?> row = JsonFields.list(rows.get(r), "val_confusion[" + r + "]", w);
          if (row.size() != perClass.length) {
            throw new GraftException(w + ": val_confusion row " + r + " has " + row.size() + " columns for "
                + perClass.length + " classes");
          }
          confusion[r] = new long[row.size()];
          for (int c = 0; c < row.size(); c++) {
            confusion[r][c] = JsonFields.integer(row.get(c), "val_confusion[" + r + "][" + c + "]", 0,
                Long.MAX_VALUE, w);
          }
        }
      }
      out.add(new EpochStats(JsonFields.int32(m, "epoch", base, Integer.MAX_VALUE, w) - base,
          JsonFields.numberOr(m, "train_loss", Double.NaN, w), JsonFields.numberOr(m, "train_accuracy", Double.NaN, w),
          JsonFields.numberOr(m, "val_loss", Double.NaN, w), JsonFields.numberOr(m, "val_accuracy", Double.NaN, w),
          JsonFields.numberOr(m, "val_top5", Double.NaN, w), perClass, confusion, JsonFields.doubles(m, "lr", w),
          JsonFields.numberOr(m, "seconds", Double.NaN, w), JsonFields.numberOr(m, "images_per_second", Double.NaN, w),
          JsonFields.boolOr(m, "feature_cache", false, w)));
    }
    return out;
  }

  /**
   * Where the CSV beside the log {@code log} goes: its name with the extension replaced by {@code .csv}; null when
   * that is the log itself (a log named {@code *.csv} gets no CSV).
   */
  public static Path csvPath(Path log) {
    String name = log.getFileName().toString();
    int dot = name.lastIndexOf('.');
    Path csv = log.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + ".csv");
    return csv.equals(log) ? null : csv;
  }

  /** The history as CSV text (see the class comment). */
  public static String csv(List<EpochStats> history) {
    int groups = 1;
    for (EpochStats s : history) {
      groups = Math.max(groups, s.lr().length);
    }
    StringBuilder sb = new StringBuilder("epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_top5,");
    for (int g = 0; g < groups; g++) {
      sb.append(groups == 1 ? "lr" : "lr_" + g).append(',');
    }
    sb.append("seconds,images_per_second,feature_cache\n");
    for (EpochStats s : history) {
      sb.append(s.epoch() + 1).append(',').append(cell(s.trainLoss())).append(',').append(cell(s.trainAccuracy()))
          .append(',').append(cell(s.valLoss())).append(',').append(cell(s.valAccuracy())).append(',')
          .append(cell(s.valTop5())).append(',');
      for (int g = 0; g < groups; g++) {
        sb.append(g < s.lr().length ? cell(s.lr()[g]) : "").append(',');
      }
      sb.append(cell(s.seconds())).append(',').append(cell(s.imagesPerSecond())).append(',').append(s.cached())
          .append('\n');
    }
    return sb.toString();
  }

  private static String cell(double d) {
    return Double.isNaN(d) ? "" : Double.toString(d);
  }

  /**
   * Rewrites the JSON-lines log at {@code path} and its CSV beside it ({@link #csvPath}) atomically from {@code
   * history}; throws {@link GraftException} naming the file if either cannot be written.
   */
  public static void write(Path path, List<EpochStats> history) {
    StringBuilder sb = new StringBuilder();
    try {
      for (EpochStats s : history) {
        sb.append(Checkpoint.JSON.writeValueAsString(line(s))).append('\n');
      }
    } catch (JsonProcessingException e) {
      throw new GraftException("metrics log: " + e.getMessage(), e);
    }
    byte[] bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(path, out -> out.write(bytes));
    Path csv = csvPath(path);
    if (csv != null) {
      byte[] table = csv(history).getBytes(StandardCharsets.UTF_8);
      AtomicFiles.write(csv, out -> out.write(table));
    }
  }
}
