package io.graft.optim;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A set of named parameters with their own hyperparameters, as an entry of PyTorch's
 * {@code optimizer.param_groups}. Options not set here fall back to the optimizer's defaults when the group is
 * added; schedulers change {@code lr} (and momentum) per group.
 *
 * <pre>{@code
 * ParamGroup head = ParamGroup.of(Params.select(model, "fc")).lr(1e-2);
 * ParamGroup body = ParamGroup.rest(model.namedParameters(), head).lr(1e-3);
 * Optimizer opt = new SGD(SGD.Options.lr(1e-3).withMomentum(0.9), head, body);
 * }</pre>
 *
 * <p>Option keys are PyTorch's: {@code lr}, {@code momentum}, {@code dampening}, {@code nesterov},
 * {@code weight_decay}, {@code betas} (a {@code double[2]}), {@code eps}, {@code amsgrad}.
 */
public final class ParamGroup {
  private final LinkedHashMap<String, Parameter> params;
  private final LinkedHashMap<String, Object> options = new LinkedHashMap<>();

  private ParamGroup(LinkedHashMap<String, Parameter> params) {
    this.params = params;
  }

  /** A group of named parameters (e.g. {@code model.namedParameters()} or {@code Params.select(model, "fc")}). */
  public static ParamGroup of(Map<String, ? extends Parameter> named) {
    if (named.isEmpty()) {
      throw new GraftException("ParamGroup: no parameters (did a name pattern select nothing?)");
    }
    return new ParamGroup(new LinkedHashMap<>(named));
  }

  /**
   * Unnamed parameters; they are named by their position in the optimizer ({@code "0"}, {@code "1"}, ...), as
   * in PyTorch's optimizer state dict.
   */
  public static ParamGroup of(List<? extends Parameter> params) {
    LinkedHashMap<String, Parameter> m = new LinkedHashMap<>();
    for (int i = 0; i < params.size(); i++) {
      m.put("\0" + i, params.get(i));
    }
    if (m.isEmpty()) {
      throw new GraftException("ParamGroup: no parameters");
    }
    return new ParamGroup(m);
  }

  /** The parameters of {@code all} that none of {@code taken} holds, e.g. the backbone once the head has a group. */
  public static ParamGroup rest(Map<String, ? extends Parameter> all, ParamGroup... taken) {
    Map<Parameter, Boolean> used = new IdentityHashMap<>();
    for (ParamGroup g : taken) {
      g.params.values().forEach(p -> used.put(p, Boolean.TRUE));
    }
    LinkedHashMap<String, Parameter> m = new LinkedHashMap<>();
    all.forEach((k, v) -> {
      if (!used.containsKey(v)) {
        m.put(k, v);
      }
    });
    if (m.isEmpty()) {
      throw new GraftException("ParamGroup.rest: every parameter is already in a group");
    }
    return new ParamGroup(m);
  }

  /** Sets an option of this group (PyTorch's key); returns {@code this}. */
  public ParamGroup set(String key, Object value) {
    if (value instanceof Number n) {
      value = n.doubleValue();
    } else if (value instanceof List<?> list) {
      double[] d = new double[list.size()];
      for (int i = 0; i < d.length; i++) {
        if (!(list.get(i) instanceof Number n)) {
          throw new GraftException("ParamGroup option '" + key + "' must hold numbers, got " + list);
        }
        d[i] = n.doubleValue();
      }
      value = d;
    }
    if (!(value instanceof Double || value instanceof Boolean || value instanceof double[])) {
      throw new GraftException("ParamGroup option '" + key + "' must be a number, boolean or double[], got " + value);
    }
    options.put(key, value instanceof double[] d ? d.clone() : value);
    return this;
  }

  public ParamGroup lr(double lr) {
    return set("lr", lr);
  }

  public ParamGroup weightDecay(double wd) {
    return set("weight_decay", wd);
  }

  public ParamGroup momentum(double m) {
    return set("momentum", m);
  }

  public double lr() {
    return getDouble("lr");
  }

  public boolean has(String key) {
    return options.containsKey(key);
  }

  public double getDouble(String key) {
    Object v = options.get(key);
    if (!(v instanceof Double d)) {
      throw new GraftException("param group has no number option '" + key + "' (options: " + options.keySet() + ")");
    }
    return d;
  }

  public boolean getBoolean(String key) {
    Object v = options.get(key);
    if (!(v instanceof Boolean b)) {
      throw new GraftException("param group has no boolean option '" + key + "' (options: " + options.keySet() + ")");
    }
    return b;
  }

  public double[] getDoubles(String key) {
    Object v = options.get(key);
    if (!(v instanceof double[] d)) {
      throw new GraftException("param group has no array option '" + key + "' (options: " + options.keySet() + ")");
    }
    return d.clone();
  }

  /** The options, read-only (after the group is added to an optimizer, defaults included). */
  public Map<String, Object> options() {
    return Collections.unmodifiableMap(options);
  }

  /** Parameters by name, in order, read-only. */
  public Map<String, Parameter> params() {
    return Collections.unmodifiableMap(params);
  }

  /** Renames positional (unnamed) parameters once their global index is known. */
  void nameAnonymous(int firstIndex) {
    if (params.keySet().stream().noneMatch(k -> k.startsWith("\0"))) {
      return;
    }
    LinkedHashMap<String, Parameter> named = new LinkedHashMap<>();
    int i = firstIndex;
    for (Map.Entry<String, Parameter> e : params.entrySet()) {
      named.put(e.getKey().startsWith("\0") ? String.valueOf(i) : e.getKey(), e.getValue());
      i++;
    }
    params.clear();
    params.putAll(named);
  }

  void fillDefaults(Map<String, Object> defaults) {
    for (String k : options.keySet()) {
      if (!defaults.containsKey(k)) {
        throw new GraftException("unknown param group option '" + k + "' for this optimizer; known: "
            + defaults.keySet());
      }
      Object d = defaults.get(k);
      Object v = options.get(k);
      if (d.getClass() != v.getClass()) {
        throw new GraftException("param group option '" + k + "' must be a " + d.getClass().getSimpleName()
            + ", got " + v);
      }
    }
    defaults.forEach((k, v) -> options.putIfAbsent(k, v instanceof double[] d ? d.clone() : v));
  }
}
