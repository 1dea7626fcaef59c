package io.graft.layers;

import io.graft.core.GraftException;
import java.util.List;

/**
 * Every problem found while loading a state dict, reported at once (the message lists the first {@link #SHOWN} of
 * each kind with their counts; the accessors return all); the module was left unchanged.
 */
public final class StateDictLoadException extends GraftException {
  /** Keys the module expects but the state dict lacks. */
  private final List<String> missingKeys;
  /** Keys in the state dict that the module does not have. */
  private final List<String> unexpectedKeys;
  /** Keys present on both sides whose shapes (or dtypes) differ, each described. */
  private final List<String> mismatches;

  /**
   * An error for {@code module} listing the {@code missing} keys, {@code unexpected} keys and shape or dtype {@code
   * mismatches}.
   */
  public StateDictLoadException(String module, List<String> missing, List<String> unexpected, List<String> mismatches) {
    this(module, missing, unexpected, mismatches, null);
  }

  /** With a closing hint (e.g. which architecture the keys fit), or {@code null} for none. */
  public StateDictLoadException(String module, List<String> missing, List<String> unexpected, List<String> mismatches,
      String hint) {
    super(message(module, missing, unexpected, mismatches) + (hint == null ? "" : "\n\t" + hint));
    this.missingKeys = List.copyOf(missing);
    this.unexpectedKeys = List.copyOf(unexpected);
    this.mismatches = List.copyOf(mismatches);
  }

  /**
   * PyTorch's wording, summarised: each kind of problem with its count and its first {@link #SHOWN} entries, so
   * loading the wrong architecture's file (thousands of keys) gives a readable message; the accessors keep all.
   */
  private static String message(String module, List<String> missing, List<String> unexpected, List<String> mismatches) {
    StringBuilder sb = new StringBuilder("Error(s) in loading state_dict for ").append(module).append(':');
    if (!missing.isEmpty()) {
      sb.append("\n\tMissing key(s) in state_dict").append(count(missing)).append(": ")
          .append(String.join(", ", quote(first(missing)))).append(more(missing)).append('.');
    }
    if (!unexpected.isEmpty()) {
      sb.append("\n\tUnexpected key(s) in state_dict").append(count(unexpected)).append(": ")
          .append(String.join(", ", quote(first(unexpected)))).append(more(unexpected)).append('.');
    }
    if (mismatches.size() > SHOWN) {
      sb.append("\n\t").append(mismatches.size()).append(" size or dtype mismatches, the first ").append(SHOWN)
          .append(':');
    }
    for (String m : first(mismatches)) {
      sb.append("\n\t").append(m).append('.');
    }
    return sb.toString();
  }

  /** How many entries of each kind a message lists. */
  public static final int SHOWN = 5;

  private static List<String> first(List<String> l) {
    return l.size() <= SHOWN ? l : l.subList(0, SHOWN);
  }

  private static String count(List<String> l) {
    return l.size() > SHOWN ? " (" + l.size() + ")" : "";
  }

  private static String more(List<String> l) {
    return l.size() > SHOWN ? " and " + (l.size() - SHOWN) + " more" : "";
  }

  private static List<String> quote(List<String> keys) {
    return keys.stream().map(k -> "\"" + k + "\"").toList();
  }

  /** Every key the module expects but the state dict lacks. */
  public List<String> missingKeys() {
    return missingKeys;
  }

  /** Every key in the state dict that the module does not have. */
  public List<String> unexpectedKeys() {
    return unexpectedKeys;
  }

  /** Every key whose tensor does not fit the module's, each described with both shapes (or both dtypes). */
  public List<String> mismatches() {
    return mismatches;
  }
}
