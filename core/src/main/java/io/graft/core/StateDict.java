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

  public StateDict() {}

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

  public boolean containsKey(String name) {
    return entries.containsKey(name);
  }

  public Tensor remove(String name) {
    return entries.remove(name);
  }

  public Set<String> keys() {
    return Collections.unmodifiableSet(entries.keySet());
  }

  public int size() {
    return entries.size();
  }

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

  public List<String> keyList() {
    return new ArrayList<>(entries.keySet());
  }

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
