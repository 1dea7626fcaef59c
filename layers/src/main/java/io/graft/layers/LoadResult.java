package io.graft.layers;

import java.util.List;

/** Keys that a non-strict {@code loadStateDict} did not match (PyTorch's {@code _IncompatibleKeys}). */
public record LoadResult(List<String> missingKeys, List<String> unexpectedKeys) {
  /** Copies both lists (read-only). */
  public LoadResult {
    missingKeys = List.copyOf(missingKeys);
    unexpectedKeys = List.copyOf(unexpectedKeys);
  }

  /** Whether every key matched: nothing missing, nothing unexpected. */
  public boolean isComplete() {
    return missingKeys.isEmpty() && unexpectedKeys.isEmpty();
  }
}
