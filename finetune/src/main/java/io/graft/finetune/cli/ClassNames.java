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
 * any name) and {@code classes} (comma-joined, as earlier versions wrote; read when the JSON key is absent); the
 * run's folder also holds them as {@code classes.json} (a JSON array), for weights in other formats and for tools.
 * A class-names file is at most {@link #MAX_FILE_BYTES} bytes.
 */
final class ClassNames {
  static final String KEY = "graft.classes";
  /** The class-names file a run writes beside its weights. */
  static final String FILE = "classes.json";
  /** Largest class-names file read: 16 MiB (a million names of 16 characters). */
  static final long MAX_FILE_BYTES = 16L << 20;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Writes {@code classes} to {@code dir/classes.json}, atomically. */
  static void write(Path dir, List<String> classes) {
    Path f = dir.resolve(FILE);
    try {
      byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(classes);
      io.graft.core.io.AtomicFiles.write(f, o -> o.write(bytes));
    } catch (JsonProcessingException e) {
      throw new GraftException(f + ": cannot encode class names: " + e.getMessage(), e);
    }
  }

  /**
   * Class names from a file: a JSON array of strings ({@code classes.json}), or plain text with one name per line
   * (blank lines ignored); at least one, each once.
   */
  static List<String> read(Path file) {
    try {
      if (!java.nio.file.Files.isRegularFile(file)) {
        throw new GraftException(file + ": no such class-names file");
      }
      long size = java.nio.file.Files.size(file);
      if (size > MAX_FILE_BYTES) {
        throw new GraftException(file + ": " + size + " bytes, more than a class-names file's " + MAX_FILE_BYTES
            + "-byte cap");
      }
      String text = java.nio.file.Files.readString(file, java.nio.charset.StandardCharsets.UTF_8);
      List<String> names;
      if (text.stripLeading().startsWith("[")) {
        List<?> raw = JSON.readValue(text, List.class);
        names = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
          if (!(raw.get(i) instanceof String n)) {
            throw new GraftException(file + ": entry " + i + " is not a class name (a JSON string): " + raw.get(i));
          }
          names.add(n);
        }
      } else {
        names = text.lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
      }
      if (names.isEmpty()) {
        throw new GraftException(file + ": no class names");
      }
      java.util.Set<String> seen = new java.util.HashSet<>();
      for (String n : names) {
        if (!seen.add(n)) {
          throw new GraftException(file + ": the class name '" + n + "' appears more than once");
        }
      }
      return names;
    } catch (JsonProcessingException e) {
      throw new GraftException(file + ": not a JSON list of class names (" + e.getOriginalMessage() + ")", e);
    } catch (java.io.IOException | java.io.UncheckedIOException e) {
      throw new GraftException(file + ": cannot read class names: " + e.getMessage(), e);
    }
  }

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
