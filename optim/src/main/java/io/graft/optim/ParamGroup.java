package io.graft.optim;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * A set of named parameters with their own hyperparameters, as an entry of PyTorch's
 * {@code optimizer.param_groups}: the parameters, the optimizer's own {@link OptimizerOptions} record
 * ({@link #options()}), and the numbers schedulers keep in a group ({@link #schedulerValue}).
 *
 * <p>A group is built before its optimizer: what is set on it then ({@link #lr(double)}, {@link #weightDecay},
 * {@link #momentum}, {@link #with}) edits the optimizer's defaults when the group is added, so options not set here
 * are the defaults. Once added, the same calls edit the group's record at once; schedulers set {@link #lr(double)}.
 *
 * <pre>{@code
 * ParamGroup head = ParamGroup.of(Params.select(model, "fc")).lr(1e-2);
 * ParamGroup body = ParamGroup.rest(model.namedParameters(), head).lr(1e-3);
 * Optimizer opt = new SGD(SGD.Options.lr(1e-3).withMomentum(0.9), head, body);
 * }</pre>
 *
 * <p>In a state dict ({@link Optimizer#stateDict()}) a group is its options under PyTorch's keys in torch.optim's
 * order ({@link OptimizerOptions#toStateDict}), then the scheduler values in the order they were first set, then
 * {@code params}.
 */
public final class ParamGroup {
  private final LinkedHashMap<String, Parameter> params;
  /** The group's options; null until the group is added to an optimizer. */
  private OptimizerOptions options;
  /** Edits to the optimizer's defaults, made before the group was added, in order. */
  private final List<UnaryOperator<OptimizerOptions>> pending = new ArrayList<>();
  /**
   * What schedulers keep in the group under PyTorch's keys ({@code initial_lr}, {@code max_lr}, ...), and any other
   * value a loaded state held besides the options: {@code Double}, {@code Boolean} or {@code double[]}.
   */
  private final LinkedHashMap<String, Object> schedulerValues = new LinkedHashMap<>();

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

  /** Sets this group's learning rate (before it is added: instead of the default); returns {@code this}. */
  public ParamGroup lr(double lr) {
    return edit(o -> o.withLr(lr));
  }

  /** Sets this group's weight decay (before it is added: instead of the default); returns {@code this}. */
  public ParamGroup weightDecay(double wd) {
    return edit(o -> o.withWeightDecay(wd));
  }

  /** Sets this group's momentum (SGD's {@code momentum}; an optimizer without one refuses it); returns {@code this}. */
  public ParamGroup momentum(double m) {
    return edit(o -> {
      if (!(o instanceof SGD.Options s)) {
        throw new GraftException("param group option 'momentum' is unknown to " + optimizerName(o) + "; known: "
            + o.toStateDict().keySet());
      }
      return s.withMomentum(m);
    });
  }

  /**
   * Edits this group's options as the given record type, e.g.
   * {@code with(SGD.Options.class, o -> o.withDampening(0.3))}; an optimizer whose options are of another type
   * refuses the group. Returns {@code this}.
   */
  public <O extends OptimizerOptions> ParamGroup with(Class<O> type, UnaryOperator<O> change) {
    return edit(o -> {
      if (!type.isInstance(o)) {
        throw new GraftException("param group options are " + type.getName() + " but the optimizer's are "
            + o.getClass().getName());
      }
      return change.apply(type.cast(o));
    });
  }

  private ParamGroup edit(UnaryOperator<OptimizerOptions> change) {
    if (options == null) {
      pending.add(change);
    } else {
      options(change.apply(options));
    }
    return this;
  }

  private static String optimizerName(OptimizerOptions o) {
    Class<?> outer = o.getClass().getEnclosingClass();
    return outer != null ? outer.getSimpleName() : o.getClass().getSimpleName();
  }

  /** This group's learning rate. */
  public double lr() {
    return options().lr();
  }

  /** This group's options (the optimizer's record type); the group must have been added to an optimizer. */
  public OptimizerOptions options() {
    if (options == null) {
      throw new GraftException("param group is not in an optimizer yet, so it has no options");
    }
    return options;
  }

  /**
   * Replaces this group's options by a record of the same type (e.g. {@code options(options().withLr(x))});
   * returns {@code this}. The group must have been added to an optimizer.
   */
  public ParamGroup options(OptimizerOptions next) {
    if (next == null || options().getClass() != next.getClass()) {
      throw new GraftException("param group options must stay " + options.getClass().getName() + ", got "
          + (next == null ? "null" : next.getClass().getName()));
    }
    options = next;
    return this;
  }

  /** Whether a scheduler value is kept under {@code key}. */
  public boolean hasSchedulerValue(String key) {
    return schedulerValues.get(key) instanceof Double;
  }

  /** The number a scheduler keeps under {@code key} (PyTorch's {@code initial_lr}, {@code max_lr}, ...). */
  public double schedulerValue(String key) {
    if (!(schedulerValues.get(key) instanceof Double d)) {
      throw new GraftException("param group has no scheduler value '" + key + "' (has: " + schedulerValues.keySet()
          + ")");
    }
    return d;
  }

  /**
   * Keeps a number for a scheduler under PyTorch's key (saved with the optimizer's state, as PyTorch keeps it in the
   * param group); a key of the options is refused. Returns {@code this}.
   */
  public ParamGroup schedulerValue(String key, double value) {
    if (options().toStateDict().containsKey(key) || key.equals("params")) {
      throw new GraftException("'" + key + "' is an option of the param group, not a scheduler value");
    }
    schedulerValues.put(key, value);
    return this;
  }

  /** The group under PyTorch's keys, without {@code params}: options, then scheduler values (a new map). */
  Map<String, Object> toStateDict() {
    Map<String, Object> out = options().toStateDict();
    schedulerValues.forEach((k, v) -> out.put(k, v instanceof double[] d ? d.clone() : v));
    return out;
  }

  /**
   * The options and scheduler values a saved group holds (checked, nothing changed): options by
   * {@link OptimizerOptions#withStateDict}, any other key as a number, boolean or list of numbers. Throws a
   * {@link GraftException} naming the key at fault.
   */
  Loaded read(Map<String, Object> saved) {
    OptimizerOptions o = options().withStateDict(saved);
    Map<String, Object> known = options.toStateDict();
    LinkedHashMap<String, Object> values = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : saved.entrySet()) {
      String k = e.getKey();
      if (k.equals("params") || known.containsKey(k)) {
        continue;
      }
      Object v = e.getValue();
      if (v instanceof Number n) {
        values.put(k, n.doubleValue());
      } else if (v instanceof Boolean b) {
        values.put(k, b);
      } else if (v instanceof double[] d) {
        values.put(k, d.clone());
      } else if (v instanceof List<?> l && l.stream().allMatch(x -> x instanceof Number)) {
        values.put(k, l.stream().mapToDouble(x -> ((Number) x).doubleValue()).toArray());
      } else {
        throw new GraftException("option '" + k + "' must be a number, a boolean or a list of numbers, got " + v);
      }
    }
    return new Loaded(o, values);
  }

  /** What {@link #read} found; {@link #load} applies it. */
  record Loaded(OptimizerOptions options, Map<String, Object> schedulerValues) {}

  void load(Loaded l) {
    options = l.options();
    schedulerValues.putAll(l.schedulerValues());
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

  /**
   * The options this group would have under an optimizer with these defaults: the defaults with this group's
   * edits applied in order (nothing changes here). Throws if the group is already in an optimizer.
   */
  OptimizerOptions resolve(OptimizerOptions defaults) {
    if (options != null) {
      throw new GraftException("param group is already in an optimizer");
    }
    OptimizerOptions o = defaults;
    for (UnaryOperator<OptimizerOptions> change : pending) {
      o = change.apply(o);
    }
    return o;
  }

  /** Called once the group is added, with {@link #resolve}'s result. */
  void adopt(OptimizerOptions resolved) {
    options = resolved;
    pending.clear();
  }
}
