package io.graft.finetune.cli;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.graft.core.GraftException;
import io.graft.core.io.JsonFields;
import io.graft.core.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What a {@code graft finetune} run was started with, written as {@code run_config.json} beside its checkpoint
 * ({@code last.ckpt}) before training, so that {@code --resume} continues the same run: the options that decide the
 * result (model, weights, data, classes, strategy, learning rates, optimizer, augmentation, ...) as canonical
 * strings, and the run's class names. A resume whose options or classes differ is refused with every difference
 * named; only the options in {@link #MAY_CHANGE} may differ (and are then recorded anew).
 */
record RunConfig(Map<String, String> options, List<String> classes) {
  static final String FILE = "run_config.json";

  /**
   * Options a resumed run may change: more (or fewer) epochs (not under {@code --lr-schedule cosine} or
   * {@code onecycle}, whose length is the number of epochs), early-stopping patience, the progress bar, the decoding
   * threads (results do not depend on them).
   */
  static final Set<String> MAY_CHANGE = Set.of("epochs", "patience", "no-progress", "workers");

  /** Largest run config read (graft writes about 1 KiB plus the class names). */
  static final long MAX_BYTES = 1 << 20;

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  RunConfig {
    options = new LinkedHashMap<>(options);
    classes = List.copyOf(classes);
  }

  void write(Path dir) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("options", options);
    m.put("classes", classes);
    try {
      byte[] bytes = JSON.writeValueAsBytes(m);
      AtomicFiles.write(dir.resolve(FILE), o -> o.write(bytes));
    } catch (IOException e) {
      throw new GraftException(dir.resolve(FILE) + ": cannot write: " + e.getMessage(), e);
    }
  }

  /** The recorded config of the run in {@code dir}, or null when it has none. */
  static RunConfig read(Path dir) {
    Path f = dir.resolve(FILE);
    if (!Files.isRegularFile(f)) {
      return null;
    }
    try {
      if (Files.size(f) > MAX_BYTES) {
        throw new GraftException(f + ": " + Files.size(f) + " bytes, more than a run config's " + MAX_BYTES
            + "-byte cap; not a file graft finetune wrote");
      }
      Map<String, Object> m = JSON.readValue(f.toFile(), new TypeReference<Map<String, Object>>() {});
      String where = f.toString();
      Map<String, String> o = new LinkedHashMap<>();
      JsonFields.map(m, "options", where).forEach((k, v) -> o.put(k, v == null ? null : String.valueOf(v)));
      List<String> c = new ArrayList<>();
      List<?> cl = JsonFields.list(m, "classes", where);
      for (int i = 0; i < cl.size(); i++) {
        if (!(cl.get(i) instanceof String name)) {
          throw new GraftException(where + ": field 'classes[" + i + "]' must be a class name, got " + cl.get(i));
        }
        c.add(name);
      }
      return new RunConfig(o, c);
    } catch (IOException e) {
      throw new GraftException(f + ": not a readable run config (" + e.getMessage() + ")", e);
    }
  }

  /**
   * Refuses to resume the run recorded in {@code saved} with this config when an option outside
   * {@link #MAY_CHANGE} or the class list differs; the message names every difference.
   */
  void checkResumable(RunConfig saved, Path dir) {
    List<String> diffs = new ArrayList<>();
    Set<String> keys = new TreeSet<>(saved.options.keySet());
    keys.addAll(options.keySet());
    for (String k : keys) {
      if (MAY_CHANGE.contains(k)) {
        continue;
      }
      String was = saved.options.get(k);
      String now = options.get(k);
      if (!java.util.Objects.equals(was, now)) {
        diffs.add("--" + k + " was " + show(was) + ", now " + show(now));
      }
    }
    String schedule = saved.options.get("lr-schedule");
    if (("cosine".equals(schedule) || "onecycle".equals(schedule))
        && !java.util.Objects.equals(saved.options.get("epochs"), options.get("epochs"))) {
      diffs.add("--epochs was " + show(saved.options.get("epochs")) + ", now " + show(options.get("epochs"))
          + " (the " + schedule + " schedule was sized for the recorded epochs)");
    }
    if (!saved.classes.equals(classes)) {
      diffs.add("classes were " + saved.classes + ", now " + classes + " (" + ClassNames.differences(saved.classes,
          classes) + ")");
    }
    if (!diffs.isEmpty()) {
      throw new GraftException("--resume: " + dir.resolve(FILE) + " records a run with other settings: "
          + String.join("; ", diffs) + ". Resume with the recorded settings (only " + new TreeSet<>(MAY_CHANGE)
          + " may change), or start a new run in another --out");
    }
  }

  private static String show(String v) {
    return v == null ? "(not set)" : "'" + v + "'";
  }
}
