package io.graft.layers;

import io.graft.core.GraftException;
import java.util.List;

/** Every problem found while loading a state dict, reported at once; the module was left unchanged. */
public final class StateDictLoadException extends GraftException {
  private final List<String> missingKeys;
  private final List<String> unexpectedKeys;
  private final List<String> mismatches;

  public StateDictLoadException(String module, List<String> missing, List<String> unexpected, List<String> mismatches) {
    super(message(module, missing, unexpected, mismatches));
    this.missingKeys = List.copyOf(missing);
    this.unexpectedKeys = List.copyOf(unexpected);
    this.mismatches = List.copyOf(mismatches);
  }

  private static String message(String module, List<String> missing, List<String> unexpected, List<String> mismatches) {
    StringBuilder sb = new StringBuilder("Error(s) in loading state_dict for ").append(module).append(':');
    if (!missing.isEmpty()) {
      sb.append("\n\tMissing key(s) in state_dict: ").append(String.join(", ", quote(missing))).append('.');
    }
    if (!unexpected.isEmpty()) {
      sb.append("\n\tUnexpected key(s) in state_dict: ").append(String.join(", ", quote(unexpected))).append('.');
    }
    for (String m : mismatches) {
      sb.append("\n\t").append(m).append('.');
    }
    return sb.toString();
  }

  private static List<String> quote(List<String> keys) {
    return keys.stream().map(k -> "\"" + k + "\"").toList();
  }

  public List<String> missingKeys() {
    return missingKeys;
  }

  public List<String> unexpectedKeys() {
    return unexpectedKeys;
  }

  public List<String> mismatches() {
    return mismatches;
  }
}
