package io.graft.optim;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Base of the optimizers: param groups, per-parameter state, and the freeze-aware step.
 *
 * <p><b>Freeze-aware.</b> A parameter that is frozen ({@code requiresGrad == false}) or has no gradient this step
 * is skipped entirely: no update, no weight decay, no momentum or moment update. State is allocated the first
 * time a parameter is actually updated, so an optimizer over a ResNet with a frozen backbone holds state for the
 * head only. State survives freezing (unfreezing resumes from it) unless {@link #resetStateOnUnfreeze} is set.
 * (PyTorch 1.x moves frozen parameters that still hold a zero gradient; Graft does not.)
 *
 * <p><b>Options.</b> Each {@link ParamGroup} holds the optimizer's own {@link OptimizerOptions} record (its
 * defaults, edited by what was set on the group), which {@link #validate} checks when the group is added and
 * {@link #update} reads directly.
 *
 * <p><b>State.</b> {@link #stateDict()} keys per-parameter buffers by parameter name
 * ({@code "fc.weight/momentum_buffer"}), so a checkpoint restores into a freshly built optimizer over the same
 * named parameters, and the restored optimizer continues bit for bit.
 */
public abstract class Optimizer {
  private final OptimizerOptions defaults;
  private final List<ParamGroup> groups = new ArrayList<>();
  private final Map<Parameter, String> names = new IdentityHashMap<>();
  /** The same names, by value (an IdentityHashMap compares its values by reference, not by equals). */
  private final Set<String> nameSet = new java.util.HashSet<>();
  private final Map<Parameter, Map<String, INDArray>> state = new IdentityHashMap<>();
  private final Set<Parameter> seenFrozen = Collections.newSetFromMap(new IdentityHashMap<>());
  private boolean resetStateOnUnfreeze;
  private int count;

  /**
   * An optimizer over {@code groups}, each completed from {@code defaults} and checked by {@link #validate}; throws
   * {@link GraftException} if {@code defaults} is null, no group is given, or a parameter appears in two groups.
   */
  protected Optimizer(OptimizerOptions defaults, ParamGroup... groups) {
    if (defaults == null) {
      throw new GraftException(getClass().getSimpleName() + ": no default options given");
    }
    this.defaults = defaults;
    if (groups.length == 0) {
      throw new GraftException(getClass().getSimpleName() + ": no parameter groups given");
    }
    for (ParamGroup g : groups) {
      addParamGroup(g);
    }
  }

  /** Adds a group (also mid-training, e.g. when unfreezing a stage); a parameter in two groups is an error. */
  public final void addParamGroup(ParamGroup g) {
    OptimizerOptions options = g.resolve(defaults);
    validate(options);
    g.nameAnonymous(count);
    Map<Parameter, String> inThisGroup = new IdentityHashMap<>();
    for (Map.Entry<String, Parameter> e : g.params().entrySet()) {
      if (names.containsKey(e.getValue())) {
        throw new GraftException(getClass().getSimpleName() + ": parameter '" + e.getKey()
            + "' is already in a param group (as '" + names.get(e.getValue()) + "')");
      }
      String twin = inThisGroup.put(e.getValue(), e.getKey());
      if (twin != null) {
        throw new GraftException(getClass().getSimpleName() + ": one parameter appears twice in a param group, as '"
            + twin + "' and '" + e.getKey() + "'");
      }
      if (nameSet.contains(e.getKey())) {
        throw new GraftException(getClass().getSimpleName() + ": two parameters are named '" + e.getKey() + "'");
      }
      if (!e.getValue().dtype().isFPType()) {
        throw new GraftException(getClass().getSimpleName() + ": parameter '" + e.getKey() + "' has dtype "
            + e.getValue().dtype() + "; only floating-point parameters can be optimized");
      }
    }
    g.adopt(options);
    g.params().forEach((k, v) -> {
      names.put(v, k);
      nameSet.add(k);
    });
    count += g.params().size();
    groups.add(g);
  }

  /** Checks a group's options (ranges) before it is added; they are of the defaults' record type. */
  protected abstract void validate(OptimizerOptions options);

  /**
   * Updates one parameter that has a gradient; {@code s} is its state (empty the first time; fill it).
   * Called only for trainable parameters with a gradient.
   */
  protected abstract void update(ParamGroup g, Parameter p, INDArray grad, Map<String, INDArray> s);

  /** One optimization step over every trainable parameter that has a gradient. */
  public final void step() {
    for (ParamGroup g : groups) {
      for (Parameter p : g.params().values()) {
        if (!p.requiresGrad()) {
          seenFrozen.add(p);
          continue;
        }
        if (seenFrozen.remove(p) && resetStateOnUnfreeze) {
          state.remove(p);
        }
        INDArray grad = p.gradData();
        if (grad == null) {
          continue;
        }
        update(g, p, grad, state.computeIfAbsent(p, k -> new LinkedHashMap<>()));
      }
    }
  }

  /**
   * Clears every gradient to null (PyTorch 2.x's {@code zero_grad(set_to_none=True)}), freeing at once the memory of
   * those never handed out ({@link Tensor#clearGrad()}).
   */
  public final void zeroGrad() {
    for (ParamGroup g : groups) {
      for (Parameter p : g.params().values()) {
        p.clearGrad();
      }
    }
  }

  /** When set, a parameter that was frozen at a step and is trainable again starts from fresh state. */
  public final Optimizer resetStateOnUnfreeze(boolean flag) {
    this.resetStateOnUnfreeze = flag;
    return this;
  }

  /** Drops the state of the named parameters (all when no name is given). */
  public final void resetState(String... paramNames) {
    if (paramNames.length == 0) {
      state.clear();
      return;
    }
    for (String n : paramNames) {
      state.remove(parameter(n));
    }
  }

  /**
   * The param groups in the order added, as a read-only list (PyTorch's {@code param_groups}); a group's options and LR
   * can be changed through it.
   */
  public final List<ParamGroup> paramGroups() {
    return Collections.unmodifiableList(groups);
  }

  /** The optimizer's default options (PyTorch's {@code optimizer.defaults}). */
  public final OptimizerOptions defaults() {
    return defaults;
  }

  /** Number of parameters that hold state (only ever-trained ones). */
  public final int stateSize() {
    return state.size();
  }

  /** Elements held in optimizer state, over all parameters (memory a frozen backbone does not cost). */
  public final long stateNumel() {
    long n = 0;
    for (Map<String, INDArray> s : state.values()) {
      for (INDArray a : s.values()) {
        n += a.length();
      }
    }
    return n;
  }

  /** The state buffers of a parameter by name (read-only view), empty if it was never updated. */
  public final Map<String, INDArray> state(String paramName) {
    Map<String, INDArray> s = state.get(parameter(paramName));
    return s == null ? Map.of() : Collections.unmodifiableMap(s);
  }

  private Parameter parameter(String name) {
    for (Map.Entry<Parameter, String> e : names.entrySet()) {
      if (e.getValue().equals(name)) {
        return e.getKey();
      }
    }
    throw new GraftException(getClass().getSimpleName() + ": no parameter named '" + name + "'");
  }

  // ---------------------------------------------------------------- state dict

  /** Per-parameter state keyed {@code "<param name>/<buffer>"} (copies) and each group's options. */
  public final OptimizerState stateDict() {
    StateDict tensors = new StateDict();
    List<Map<String, Object>> groupOptions = new ArrayList<>();
    for (ParamGroup g : groups) {
      for (Map.Entry<String, Parameter> e : g.params().entrySet()) {
        Map<String, INDArray> s = state.get(e.getValue());
        if (s != null) {
          s.forEach((k, v) -> tensors.put(e.getKey() + "/" + k, Tensor.of(v.dup())));
        }
      }
      Map<String, Object> o = g.toStateDict();
      o.put("params", new ArrayList<>(g.params().keySet()));
      groupOptions.add(o);
    }
    return new OptimizerState(getClass().getSimpleName(), tensors, groupOptions);
  }

  /**
   * Restores state saved by {@link #stateDict()} from an optimizer of the same type over parameters of the same
   * names and shapes in the same groups. Everything is checked before anything changes.
   */
  public final void loadStateDict(OptimizerState saved) {
    String me = getClass().getSimpleName();
    if (!saved.optimizer().equals(me)) {
      throw new GraftException("optimizer state is from " + saved.optimizer() + ", cannot load into " + me);
    }
    if (saved.groups().size() != groups.size()) {
      throw new GraftException(me + ": saved state has " + saved.groups().size() + " param groups, this optimizer has "
          + groups.size());
    }
    Map<Parameter, Map<String, INDArray>> fresh = new IdentityHashMap<>();
    List<String> problems = new ArrayList<>();
    List<ParamGroup.Loaded> loaded = new ArrayList<>();
    for (int i = 0; i < groups.size(); i++) {
      Object savedNames = saved.groups().get(i).get("params");
      List<String> mine = new ArrayList<>(groups.get(i).params().keySet());
      if (!mine.equals(savedNames)) {
        problems.add("group " + i + " holds " + mine + " but the saved group held " + savedNames);
      }
      try {
        loaded.add(groups.get(i).read(saved.groups().get(i)));
      } catch (GraftException e) {
        problems.add("group " + i + ": " + e.getMessage());
      }
    }
    for (Map.Entry<String, Tensor> e : saved.tensors()) {
      int slash = e.getKey().lastIndexOf('/');
      Parameter p = null;
      if (slash > 0) {
        String n = e.getKey().substring(0, slash);
        p = names.entrySet().stream().filter(x -> x.getValue().equals(n)).map(Map.Entry::getKey).findFirst()
            .orElse(null);
      }
      if (p == null) {
        problems.add("state '" + e.getKey() + "' names no parameter of this optimizer");
        continue;
      }
      INDArray v = e.getValue().data();
      String buf = e.getKey().substring(slash + 1);
      if (!buf.equals("step") && !java.util.Arrays.equals(v.shape(), p.shape())) {
        problems.add("state '" + e.getKey() + "' has shape " + java.util.Arrays.toString(v.shape())
            + " but the parameter has shape " + java.util.Arrays.toString(p.shape()));
        continue;
      }
      fresh.computeIfAbsent(p, k -> new LinkedHashMap<>()).put(buf, v.dup());
    }
    if (!problems.isEmpty()) {
      throw new GraftException(me + ": cannot load optimizer state:\n  " + String.join("\n  ", problems));
    }
    state.clear();
    state.putAll(fresh);
    for (int i = 0; i < groups.size(); i++) {
      groups.get(i).load(loaded.get(i));
    }
  }
}
