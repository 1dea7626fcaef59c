package io.graft.layers;

import java.util.List;

/** Keys that a non-strict {@code loadStateDict} did not match (PyTorch's {@code _IncompatibleKeys}). */
public record LoadResult(List<String> missingKeys, List<String> unexpectedKeys) {
  public LoadResult {
    missingKeys = List.copyOf(missingKeys);
    unexpectedKeys = List.copyOf(unexpectedKeys);
  }

  public boolean isComplete() {
    return missingKeys.isEmpty() && unexpectedKeys.isEmpty();
  }
}
