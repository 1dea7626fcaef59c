package io.graft.finetune.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.GraftException;
import io.graft.core.io.Safetensors;
import io.graft.zoo.weights.Weights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The class names a run saves with its weights, and their comparison with the classes of the data a command is
 * given. {@code model.safetensors} carries them in its metadata as {@code graft.classes} (a JSON array, exact for
 * any name) and {@code classes} (comma-joined, as earlier versions wrote; read when the JSON key is absent).
 */
final class ClassNames {
  static final String KEY = "graft.classes";
  private static final ObjectMapper JSON = new ObjectMapper();

  private ClassNames() {}

  /** The metadata entries that record {@code classes}. */
  static Map<String, String> metadata(List<String> classes) {
    Map<String, String> m = new LinkedHashMap<>();
    try {
      m.put(KEY, JSON.writeValueAsString(classes));
    } catch (JsonProcessingException e) {
      throw new GraftException("cannot encode class names: " + e.getMessage(), e);
    }
    m.put("classes", String.join(",", classes));
    return m;
  }

  /** The class names saved in a safetensors weights file, or null (another format, or none saved). */
  static List<String> saved(Path weights) {
    if (Weights.detect(weights) != Weights.Format.SAFETENSORS) {
      return null;
    }
    Map<String, String> meta = Safetensors.open(weights).metadata();
    String json = meta.get(KEY);
    if (json != null) {
      try {
        List<String> names = JSON.readValue(json, new TypeReference<List<String>>() {});
        if (names == null || names.isEmpty() || names.contains(null)) {
          throw new GraftException(weights + ": metadata '" + KEY + "' is not a list of class names: " + json);
        }
        return names;
      } catch (JsonProcessingException e) {
        throw new GraftException(weights + ": metadata '" + KEY + "' is not a JSON list of class names ("
            + e.getOriginalMessage() + ")", e);
      }
    }
    String joined = meta.get("classes");
    return joined == null || joined.isEmpty() ? null : Arrays.asList(joined.split(",", -1));
  }

  /** What differs between two class lists, e.g. "missing [bag]; extra [hat]" or "same names, other order: ...". */
  static String differences(List<String> expected, List<String> actual) {
    List<String> missing = new ArrayList<>(expected);
    missing.removeAll(actual);
    List<String> extra = new ArrayList<>(actual);
    extra.removeAll(expected);
    List<String> parts = new ArrayList<>();
    if (!missing.isEmpty()) {
      parts.add("missing " + missing);
    }
    if (!extra.isEmpty()) {
      parts.add("not in the model " + extra);
    }
    if (parts.isEmpty()) {
      parts.add("same names in another order: " + actual + " instead of " + expected);
    }
    return String.join("; ", parts);
  }
}
