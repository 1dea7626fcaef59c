package io.graft.finetune.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.GraftException;
import io.graft.core.io.JsonFields;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import picocli.CommandLine;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * {@code --config FILE}: replays the options recorded in a run's {@code config} block (see {@link RunRecord}), read
 * from a {@code metrics.json} or from any JSON file whose top-level object has a {@code config} member. It is the
 * command's picocli default-value provider, so the rule is picocli's own: an option given on the command line
 * wins; every other option takes the file's value (which picocli converts and checks as if it had been typed); an
 * option the file does not name keeps its default.
 *
 * <p>A key that is not an option of the command is refused, naming it; {@code --out} is not taken from a record
 * that sits in that folder (the replay would overwrite the run it replays); a multi-valued option recorded with more
 * than one value is replayed only when the option splits its value. A file written by another Graft version or
 * commit is replayed with a warning naming both. Only the {@code config} member is kept in memory: the rest of a
 * {@code metrics.json} (its history can be large) is skipped while streaming. Caps: a config block of at most
 * {@link #MAX_CONFIG_BYTES} bytes (graft writes about 2 KiB), strings of at most {@link #MAX_STRING_CHARS}
 * characters and nesting at most {@link #MAX_DEPTH} deep anywhere in the file.
 */
public final class ConfigReplay implements IDefaultValueProvider {
  /** The option that names the file. */
  static final String OPTION = "--config";

  /**
   * The output folder option: taken from the record only when it is not the folder the record is in (a replay
   * without {@code --out} would overwrite the run it replays).
   */
  static final String OUT = "--out";

  /** The option's description, with the override rule. */
  static final String DESCRIPTION = "replay a recorded run: set every option from the 'config' block of a "
      + "metrics.json (or of a run.json holding one); an option given on this command line overrides the file's, "
      + "and an option the file does not name keeps its default";

  /** Largest config block replayed: 1 MiB. */
  static final long MAX_CONFIG_BYTES = 1 << 20;
  /** Longest string in a replayed file: 1 Mi characters. */
  static final int MAX_STRING_CHARS = 1 << 20;
  /** Deepest nesting in a replayed file (a metrics.json nests 4 deep). */
  static final int MAX_DEPTH = 64;

  private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder().maxStringLength(MAX_STRING_CHARS)
          .maxNestingDepth(MAX_DEPTH).build()).build());

  private Path loadedFrom;
  private Map<String, Object> options;

  @Override
  public String defaultValue(ArgSpec arg) {
    if (!(arg instanceof OptionSpec o) || o.longestName().equals(OPTION)) {
      return null;
    }
    CommandSpec cmd = arg.command();
    OptionSpec file = cmd.findOption(OPTION);
    Object value = file == null ? null : file.getValue();
    if (value == null) {
      return null;
    }
    try {
      Path from = Path.of(value.toString());
      Map<String, Object> recorded = options(cmd, from);
      String key = RunRecord.key(o);
      String text = recorded.containsKey(key) ? text(o, key, recorded.get(key), from) : null;
      if (o.longestName().equals(OUT) && text != null && Path.of(text).toAbsolutePath().normalize()
          .equals(from.toAbsolutePath().normalize().getParent())) {
        throw new GraftException(OPTION + " " + from + ": the recorded " + OUT + " is the folder this record is in; "
            + "give " + OUT + " DIR for the replay, so that it does not overwrite the run it replays");
      }
      return text;
    } catch (GraftException e) {
      throw new CommandLine.ParameterException(cmd.commandLine(), e.getMessage(), e, arg, value.toString());
    }
  }

  /** The recorded options, read once per file, checked against the command's options. */
  private Map<String, Object> options(CommandSpec cmd, Path file) {
    if (file.equals(loadedFrom)) {
      return options;
    }
    Map<String, Object> config = read(file);
    String where = file + ", 'config'";
    Map<String, Object> recorded = JsonFields.map(config, "options", where);
    List<String> known = new ArrayList<>();
    RunRecord.replayable(cmd).forEach(o -> known.add(RunRecord.key(o)));
    for (String key : recorded.keySet()) {
      if (!known.contains(key)) {
        throw new GraftException(OPTION + " " + file + ": the recorded option '" + key + "' is not an option of graft "
            + cmd.qualifiedName(" ").replaceFirst("^graft ", "") + " (known: " + new TreeSet<>(known) + "); remove it "
            + "from the file, or replay with the Graft version that wrote it");
      }
    }
    BuildInfo now = BuildInfo.current();
    Object version = config.get("graft_version");
    Object commit = config.get("graft_commit");
    if (!Objects.equals(version, now.version()) || !Objects.equals(commit, now.commit())) {
      var err = cmd.commandLine().getErr();
      err.println("graft: warning: " + file + " was recorded by Graft " + (version == null ? "(version not recorded)"
          : version + " (commit " + commit + ")") + "; this is Graft " + now.version() + " (commit " + now.commit()
          + "): the replay may not give the same results");
      err.flush();
    }
    loadedFrom = file;
    options = new LinkedHashMap<>(recorded);
    return options;
  }

  /** The top-level {@code config} object of {@code file}, streaming past every other member. */
  static Map<String, Object> read(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new GraftException(OPTION + " " + file + ": no such file");
    }
    try (JsonParser p = JSON.getFactory().createParser(file.toFile())) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new GraftException(OPTION + " " + file + ": not a JSON object (expected a metrics.json or a run.json "
            + "with a 'config' block)");
      }
      Map<String, Object> config = null;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        if (name.equals("config") && config == null) {
          if (t != JsonToken.START_OBJECT) {
            throw new GraftException(OPTION + " " + file + ": 'config' must be an object, got " + t);
          }
          long start = p.currentTokenLocation().getByteOffset();
          @SuppressWarnings("unchecked")
          Map<String, Object> m = p.readValueAs(Map.class);
          long bytes = p.currentLocation().getByteOffset() - start;
          if (bytes > MAX_CONFIG_BYTES) {
            throw new GraftException(OPTION + " " + file + ": a " + bytes + "-byte 'config' block, more than the "
                + MAX_CONFIG_BYTES + "-byte cap (graft writes about 2 KiB)");
          }
          config = m;
        } else {
          p.skipChildren();
        }
      }
      if (config == null) {
        throw new GraftException(OPTION + " " + file + ": has no 'config' block (graft finetune writes one into "
            + "metrics.json)");
      }
      return config;
    } catch (IOException e) {
      throw new GraftException(OPTION + " " + file + ": not readable JSON (" + e.getMessage().replace('\n', ' ')
          + ")", e);
    }
  }

  /** A recorded value as the text picocli converts for option {@code o}. */
  private static String text(OptionSpec o, String key, Object v, Path file) {
    if (v == null) {
      return null;
    }
    if (v instanceof List<?> list) {
      if (list.isEmpty()) {
        return null;
      }
      if (list.size() == 1) {
        return text(o, key, list.get(0), file);
      }
      String split = o.splitRegex();
      if (!o.isMultiValue() || split.isEmpty() || split.chars().anyMatch(c -> "\\.[]{}()*+?^$|".indexOf(c) >= 0)) {
        throw new GraftException(OPTION + " " + file + ": option '" + key + "' is recorded with " + list.size()
            + " values " + list + ", which it cannot take in one value; give it on the command line");
      }
      List<String> parts = new ArrayList<>();
      for (Object x : list) {
        parts.add(text(o, key, x, file));
      }
      return String.join(split, parts);
    }
    if (v instanceof Map<?, ?>) {
      throw new GraftException(OPTION + " " + file + ": option '" + key + "' must be a value or a list, got an object");
    }
    return v.toString();
  }
}
