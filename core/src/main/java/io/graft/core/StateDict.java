package io.graft.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An ordered map from dotted names ({@code "layer1.0.conv1.weight"}) to tensors: what a module's
 * {@code stateDict()} returns, what weight readers produce, and what checkpoints and exports contain.
 * Insertion order is kept (it is PyTorch's registration order).
 */
public final class StateDict implements Iterable<Map.Entry<String, Tensor>> {
  private final LinkedHashMap<String, Tensor> entries = new LinkedHashMap<>();

  /** An empty state dict. */
  public StateDict() {}

  /**
   * A state dict holding {@code m}'s entries in its iteration order; throws {@link GraftException} on an empty name or
   * a null tensor.
   */
  public StateDict(Map<String, Tensor> m) {
    m.forEach(this::put);
  }

  /** Adds or replaces an entry (keeping its position when replaced). */
  public StateDict put(String name, Tensor t) {
    if (name == null || name.isEmpty()) {
      throw new GraftException("StateDict: empty tensor name");
    }
    if (t == null) {
      throw new GraftException("StateDict: null tensor for '" + name + "'");
    }
    entries.put(name, t);
    return this;
  }

  /** The tensor stored under {@code name}, or null. */
  public Tensor get(String name) {
    return entries.get(name);
  }

  /** Whether an entry is stored under {@code name}. */
  public boolean containsKey(String name) {
    return entries.containsKey(name);
  }

  /** Removes the entry under {@code name}; returns its tensor, or null if there was none. */
  public Tensor remove(String name) {
    return entries.remove(name);
  }

  /** The names in insertion order, as a read-only view. */
  public Set<String> keys() {
    return Collections.unmodifiableSet(entries.keySet());
  }

  /** The number of entries. */
  public int size() {
    return entries.size();
  }

  /** Whether there are no entries. */
  public boolean isEmpty() {
    return entries.isEmpty();
  }

  /** Entries whose names start with {@code prefix}, with the prefix removed. */
  public StateDict withPrefixStripped(String prefix) {
    StateDict out = new StateDict();
    entries.forEach((k, v) -> {
      if (k.startsWith(prefix)) {
        out.put(k.substring(prefix.length()), v);
      }
    });
    return out;
  }

  /** Every entry, with names starting with {@code prefix} stripped of it (others unchanged). */
  public StateDict stripPrefix(String prefix) {
    StateDict out = new StateDict();
    entries.forEach((k, v) -> out.put(k.startsWith(prefix) ? k.substring(prefix.length()) : k, v));
    return out;
  }

  /** Total number of elements over all tensors. */
  public long numel() {
    long n = 0;
    for (Tensor t : entries.values()) {
      n += t.numel();
    }
    return n;
  }

  /** A copy of the names in insertion order. */
  public List<String> keyList() {
    return new ArrayList<>(entries.keySet());
  }

  /** A read-only view of the entries in insertion order (PyTorch's {@code OrderedDict}). */
  public Map<String, Tensor> asMap() {
    return Collections.unmodifiableMap(entries);
  }

  @Override
  public Iterator<Map.Entry<String, Tensor>> iterator() {
    return Collections.unmodifiableMap(entries).entrySet().iterator();
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("StateDict{");
    entries.forEach((k, v) -> sb.append("\n  ").append(k).append(": ").append(Shapes.str(v.shape())).append(' ')
        .append(v.dtype()));
    return sb.append(entries.isEmpty() ? "}" : "\n}").toString();
  }
}
