package io.graft.finetune.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.graft.core.GraftException;
import io.graft.core.io.AtomicFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The per-epoch metrics log: one JSON object per line, rewritten atomically after every epoch. Epochs are numbered
 * from 1, as on screen ({@link EpochStats#epoch()} counts from 0).
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

  @SuppressWarnings("unchecked")
  static List<EpochStats> fromJson(Object o, Object epochBase) {
    int base = epochBase instanceof Number n ? n.intValue() : 0; // checkpoints before numbering from 1 have none
    List<EpochStats> out = new ArrayList<>();
    for (Map<String, Object> m : (List<Map<String, Object>>) o) {
      List<Number> lr = (List<Number>) m.get("lr");
      List<Number> perClass = (List<Number>) m.get("val_per_class_accuracy");
      List<List<Number>> confusion = (List<List<Number>>) m.get("val_confusion");
      out.add(new EpochStats(((Number) m.get("epoch")).intValue() - base, num(m, "train_loss"), num(m, "train_accuracy"),
          num(m, "val_loss"), num(m, "val_accuracy"), num(m, "val_top5"),
          perClass == null ? null : perClass.stream().mapToDouble(v -> v == null ? Double.NaN : v.doubleValue())
              .toArray(),
          confusion == null ? null : confusion.stream().map(r -> r.stream().mapToLong(Number::longValue).toArray())
              .toArray(long[][]::new),
          lr.stream().mapToDouble(Number::doubleValue).toArray(), num(m, "seconds"), num(m, "images_per_second"),
          Boolean.TRUE.equals(m.get("feature_cache"))));
    }
    return out;
  }

  private static double num(Map<String, Object> m, String k) {
    Object v = m.get(k);
    return v == null ? Double.NaN : ((Number) v).doubleValue();
  }

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
  }
}
