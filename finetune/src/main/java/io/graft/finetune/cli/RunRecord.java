package io.graft.finetune.cli;

import io.graft.core.Backend;
import java.io.File;
import java.lang.reflect.Array;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The {@code config} block a run writes into its {@code metrics.json}: every option of the command with its
 * resolved value (given or default), keyed by its longest name without dashes, and what the run ran on (the Graft
 * version and commit, Java, ND4J, the native build, threads, the seed). It is generic over the command's picocli
 * {@link CommandSpec}: an option added or renamed is recorded, and replayed by {@link ConfigReplay}, without a
 * change here.
 *
 * <p>Paths are recorded resolved to absolute ({@code options}), so a replay from another working directory reads
 * the same files, and as given where that differs ({@code given}). An option holds paths when its type is
 * {@link Path} or {@link File}, or when its parameter label (picocli's {@code paramLabel}, shown in {@code --help})
 * names FILE or DIR, as {@code FILE|imagenet} does: such a text value is made absolute when it names a file or
 * folder that exists, directly or after a {@code scheme:} prefix of two or more letters ({@code fashion-mnist:DIR});
 * a keyword ({@code imagenet}) stays as it is. Any other text option is recorded as given, so a model named like a
 * folder in the working directory stays a model name.
 *
 * <p>Not recorded: the help and version options, and {@code --config} itself (a replayed run records the options
 * it ran with, not the file they came from).
 */
final class RunRecord {
  /** A {@code scheme:rest} value whose rest may be a path, e.g. {@code fashion-mnist:data/fmnist}. */
  private static final Pattern SCHEME = Pattern.compile("([A-Za-z][A-Za-z0-9+.-]+):(.+)");

  private RunRecord() {}

  /** The options that a record holds and a replay sets: all but help, version and {@link ConfigReplay#OPTION}. */
  static List<OptionSpec> replayable(CommandSpec spec) {
    List<OptionSpec> out = new ArrayList<>();
    for (OptionSpec o : spec.options()) {
      if (o.usageHelp() || o.versionHelp() || o.longestName().equals(ConfigReplay.OPTION)) {
        continue;
      }
      out.add(o);
    }
    return out;
  }

  /** An option's key in the record: its longest name without the leading dashes ({@code --batch-size}: batch-size). */
  static String key(OptionSpec o) {
    return o.longestName().replaceFirst("^-+", "");
  }

  /**
   * The config block for the options of {@code spec} as they are now; call it before the command changes any
   * option field.
   */
  static Map<String, Object> config(CommandSpec spec) {
    Map<String, Object> options = new LinkedHashMap<>();
    Map<String, Object> given = new LinkedHashMap<>();
    for (OptionSpec o : replayable(spec)) {
      Object v = o.getValue();
      Object resolved = json(v, true, holdsPaths(o));
      options.put(key(o), resolved);
      Object raw = json(v, false, false);
      if (!java.util.Objects.equals(raw, resolved)) {
        given.put(key(o), raw);
      }
    }
    BuildInfo b = BuildInfo.current();
    Map<String, Object> c = new LinkedHashMap<>();
    c.put("graft_version", b.version());
    c.put("graft_commit", b.commit());
    c.put("graft_uncommitted_changes", b.dirty());
    c.put("java_version", System.getProperty("java.runtime.version", System.getProperty("java.version")));
    c.put("java_vendor", System.getProperty("java.vendor"));
    c.put("nd4j_version", b.nd4j());
    c.put("backend", Backend.description());
    c.put("native_build", Backend.nativeBuild());
    int threads = Backend.threads();
    c.put("threads", threads < 0 ? null : threads);
    OptionSpec seed = spec.findOption("--seed");
    c.put("seed", seed == null ? null : json(seed.getValue(), false, false));
    c.put("command", spec.qualifiedName());
    c.put("options", options);
    c.put("given", given);
    return c;
  }

  /** Whether an option's text values are paths: its parameter label names FILE or DIR (see the class comment). */
  static boolean holdsPaths(OptionSpec o) {
    return o.paramLabel().matches(".*\\b(FILE|DIR)\\b.*");
  }

  /**
   * A value as JSON: null, boolean, number and text as they are, enums by name, lists for collections and arrays;
   * with {@code resolve}, {@link Path} and {@link File} values made absolute, and text values too when
   * {@code textPaths} (an option that {@link #holdsPaths}); without, every value as given.
   */
  private static Object json(Object v, boolean resolve, boolean textPaths) {
    if (v == null || v instanceof Boolean || v instanceof Number) {
      return v;
    }
    if (v instanceof Enum<?> e) {
      return e.name();
    }
    if (v instanceof File f) {
      v = f.toPath();
    }
    if (v instanceof Path p) {
      return resolve ? p.toAbsolutePath().normalize().toString() : p.toString();
    }
    if (v instanceof Collection<?> c) {
      List<Object> out = new ArrayList<>();
      c.forEach(x -> out.add(json(x, resolve, textPaths)));
      return out;
    }
    if (v.getClass().isArray()) {
      List<Object> out = new ArrayList<>();
      for (int i = 0; i < Array.getLength(v); i++) {
        out.add(json(Array.get(v, i), resolve, textPaths));
      }
      return out;
    }
    String s = v.toString();
    return resolve && textPaths ? absoluteIfPath(s) : s;
  }

  /** {@code s} with its path made absolute when it names an existing file or folder (after a scheme prefix). */
  static String absoluteIfPath(String s) {
    String abs = existing(s);
    if (abs != null) {
      return abs;
    }
    Matcher m = SCHEME.matcher(s);
    if (m.matches()) {
      abs = existing(m.group(2));
      if (abs != null) {
        return m.group(1) + ":" + abs;
      }
    }
    return s;
  }

  private static String existing(String s) {
    try {
      Path p = Path.of(s);
      return !s.isEmpty() && Files.exists(p) ? p.toAbsolutePath().normalize().toString() : null;
    } catch (InvalidPathException e) {
      return null;
    }
  }
}
