package io.graft.layers;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.ShapeException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.layers.params.Params;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * Base class of every layer and model, after torch.nn.Module. A module registers its parameters, buffers and
 * child modules under names (torchvision's names, so a torchvision {@code state_dict} loads by name); dotted
 * paths ({@code "layer1.0.conv1.weight"}) follow registration order.
 *
 * <pre>{@code
 * class Net extends Module {
 *   private Conv2d conv1 = registerModule("conv1", new Conv2d(1, 16, 3));
 *   private Linear fc = registerModule("fc", new Linear(16, 10));
 *   public Tensor forward(Tensor x) { return fc.call(conv1.call(x).relu().mean(false, 2, 3)); }
 * }
 * }</pre>
 *
 * <p>Call modules through {@link #call(Tensor)} (like PyTorch's {@code module(x)}): it runs forward hooks
 * (used by {@link Summary}) around {@link #forward(Tensor)}.
 *
 * <p>Replacing a child by path ({@code replace("fc", new Linear(512, 10))}) updates the registry in place (order
 * kept); the parent takes the new module through {@link #assignChild}, which a module overrides for the children
 * its forward holds in fields (ResNet's {@code fc}); the other children cannot be replaced.
 *
 * <p>Thread-safety: a module in eval mode may serve {@code call} from several threads under
 * {@code GradMode.disabled()}; training, loading and structural changes must be confined to one thread.
 */
public abstract class Module {
  private final LinkedHashMap<String, Parameter> parameters = new LinkedHashMap<>();
  private final LinkedHashMap<String, Tensor> buffers = new LinkedHashMap<>();
  private final Set<String> nonPersistent = new LinkedHashSet<>();
  private final LinkedHashMap<String, Module> children = new LinkedHashMap<>();
  private final List<ForwardHook> hooks = new ArrayList<>();
  private boolean training = true;

  /** The computation; call modules through {@link #call} so that hooks run. */
  public abstract Tensor forward(Tensor x);

  /**
   * Runs {@link #forward} and then this module's forward hooks.
   *
   * <p>Graft's own modules free their intermediate activations themselves instead of leaving them to the garbage
   * collector: see {@link IntermediateRelease} for the rule (when nothing below keeps them: as the call returns, or
   * once a backward pass through its output has finished; the output is never freed).
   */
  public final Tensor call(Tensor x) {
    Tensor y = IntermediateRelease.call(this, x);
    if (!hooks.isEmpty()) {
      for (ForwardHook h : hooks.toArray(ForwardHook[]::new)) {
        h.afterForward(this, x, y);
      }
    }
    return y;
  }

  /**
   * Runs {@code body} on {@code x} — a stretch of a forward that uses only the modules {@code used} — under
   * {@link #call}'s rule for intermediate activations ({@link IntermediateRelease}); none of {@code used} may have
   * forward hooks for anything to be freed. For a module whose torchvision layout has no container around such a
   * stretch (ResNet's stem and stages before {@code fc}), or for a pair of modules computed in one pass.
   */
  protected static Tensor releasingIntermediates(Tensor x, UnaryOperator<Tensor> body, Module... used) {
    return IntermediateRelease.run(x, body, used);
  }

  /** Adds a hook run after every {@link #call}; returns a handle whose {@code close()} removes it. */
  public final AutoCloseable addForwardHook(ForwardHook hook) {
    hooks.add(hook);
    return () -> hooks.remove(hook);
  }

  /** Whether a forward hook is registered on this module (a caller that would skip its call must not then). */
  public final boolean hasForwardHooks() {
    return !hooks.isEmpty();
  }

  /** This module's own parameters (not its children's), for {@link IntermediateRelease}. */
  final Collection<Parameter> ownParameters() {
    return parameters.values();
  }

  /** This module's direct children, for {@link IntermediateRelease}. */
  final Collection<Module> childModules() {
    return children.values();
  }

  // ---------------------------------------------------------------- registration

  /**
   * Registers {@code p} as this module's parameter {@code name} (PyTorch's {@code register_parameter}) and returns it;
   * throws {@link GraftException} if {@code p} is null or the name is empty, contains a dot, or is already taken.
   */
  protected final Parameter registerParameter(String name, Parameter p) {
    checkName(name);
    if (p == null) {
      throw new GraftException(typeName() + ": parameter '" + name + "' is null (leave an absent parameter unregistered)");
    }
    parameters.put(name, p);
    return p;
  }

  /** Registers a persistent buffer (part of the state dict), e.g. BatchNorm's running statistics. */
  protected final Tensor registerBuffer(String name, Tensor t) {
    return registerBuffer(name, t, true);
  }

  /**
   * Registers buffer {@code name} (PyTorch's {@code register_buffer}); a non-{@code persistent} one is listed among the
   * buffers but left out of the state dict. Returns {@code t}; throws {@link GraftException} as {@link
   * #registerParameter}.
   */
  protected final Tensor registerBuffer(String name, Tensor t, boolean persistent) {
    checkName(name);
    if (t == null) {
      throw new GraftException(typeName() + ": buffer '" + name + "' is null");
    }
    buffers.put(name, t);
    if (!persistent) {
      nonPersistent.add(name);
    }
    return t;
  }

  /** Registers a child module; registering an existing name replaces that child in place. */
  protected final <M extends Module> M registerModule(String name, M child) {
    if (!children.containsKey(name)) {
      checkName(name);
    }
    if (child == null) {
      throw new GraftException(typeName() + ": child module '" + name + "' is null");
    }
    children.put(name, child);
    return child;
  }

  private void checkName(String name) {
    if (name == null || name.isEmpty() || name.contains(".")) {
      throw new GraftException(typeName() + ": invalid name '" + name + "' (must be non-empty and contain no '.')");
    }
    if (parameters.containsKey(name) || buffers.containsKey(name) || children.containsKey(name)) {
      throw new GraftException(typeName() + ": name '" + name + "' is already registered");
    }
  }

  // ---------------------------------------------------------------- traversal

  /** Parameters with dotted paths, in registration order; a shared parameter is listed once. */
  public final Map<String, Parameter> namedParameters() {
    Map<String, Parameter> out = new LinkedHashMap<>();
    Map<Tensor, Boolean> seen = new IdentityHashMap<>();
    for (Map.Entry<String, Module> m : namedModules().entrySet()) {
      String prefix = m.getKey().isEmpty() ? "" : m.getKey() + ".";
      for (Map.Entry<String, Parameter> p : m.getValue().parameters.entrySet()) {
        if (seen.put(p.getValue(), Boolean.TRUE) == null) {
          out.put(prefix + p.getKey(), p.getValue());
        }
      }
    }
    return out;
  }

  /**
   * Every parameter of this module and its descendants, in registration order, a shared one once (what an optimizer
   * takes; PyTorch's {@code parameters()}).
   */
  public final List<Parameter> parameters() {
    return new ArrayList<>(namedParameters().values());
  }

  /** Buffers with dotted paths (persistent and not), in registration order. */
  public final Map<String, Tensor> namedBuffers() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (Map.Entry<String, Module> m : namedModules().entrySet()) {
      String prefix = m.getKey().isEmpty() ? "" : m.getKey() + ".";
      m.getValue().buffers.forEach((k, v) -> out.put(prefix + k, v));
    }
    return out;
  }

  /** This module ({@code ""}) and every descendant, depth first in registration order; shared modules once. */
  public final Map<String, Module> namedModules() {
    Map<String, Module> out = new LinkedHashMap<>();
    Map<Module, Boolean> seen = new IdentityHashMap<>();
    collect("", this, out, seen);
    return out;
  }

  private static void collect(String path, Module m, Map<String, Module> out, Map<Module, Boolean> seen) {
    if (seen.put(m, Boolean.TRUE) != null) {
      return;
    }
    out.put(path, m);
    for (Map.Entry<String, Module> c : m.children.entrySet()) {
      collect(path.isEmpty() ? c.getKey() : path + "." + c.getKey(), c.getValue(), out, seen);
    }
  }

  /** Direct children by name, in registration order. */
  public final Map<String, Module> namedChildren() {
    return Collections.unmodifiableMap(children);
  }

  /** The descendant at a dotted path ({@code "layer4.1.conv2"}; {@code ""} is this module). */
  public final Module get(String path) {
    Module m = this;
    if (path.isEmpty()) {
      return m;
    }
    String walked = "";
    for (String part : path.split("\\.", -1)) {
      Module next = m.children.get(part);
      if (next == null) {
        throw new GraftException("no submodule '" + path + "': " + (walked.isEmpty() ? typeName() : "'" + walked + "' ("
            + m.typeName() + ")") + " has no child '" + part + "'; children: " + m.children.keySet());
      }
      walked = walked.isEmpty() ? part : walked + "." + part;
      m = next;
    }
    return m;
  }

  /** {@link #get} cast to the expected type, with a clear error otherwise. */
  public final <M extends Module> M get(String path, Class<M> type) {
    Module m = get(path);
    if (!type.isInstance(m)) {
      throw new GraftException("submodule '" + path + "' is a " + m.typeName() + ", not a " + type.getSimpleName());
    }
    return type.cast(m);
  }

  /**
   * Replaces the child at a dotted path (it must exist) and returns the module that was there, as PyTorch's
   * {@code model.fc = nn.Linear(512, 10)}: the parent takes the new module through {@link #assignChild} (which
   * refuses for a child its forward cannot swap), then the registry is updated in place, order kept. Nothing
   * changes when the parent refuses.
   */
  public final Module replace(String path, Module replacement) {
    int dot = path.lastIndexOf('.');
    Module parent = dot < 0 ? this : get(path.substring(0, dot));
    String name = path.substring(dot + 1);
    Module old = parent.children.get(name);
    if (old == null) {
      throw new GraftException("replace('" + path + "'): " + parent.typeName() + " has no child '" + name
          + "'; children: " + parent.children.keySet());
    }
    if (replacement == null) {
      throw new GraftException("replace('" + path + "'): replacement is null (use new Identity())");
    }
    parent.assignChild(name, replacement);
    parent.children.put(name, replacement);
    return old;
  }

  /**
   * Takes {@code replacement} as the child registered under {@code name}, for {@link #replace}: a module whose
   * forward reads that child from a field assigns the field here (or throws a {@link GraftException} if the
   * replacement cannot serve); the registry is updated after this returns. A module whose forward reads its
   * children from the registry ({@link Sequential}) has nothing to assign. By default a child cannot be replaced,
   * since its parent's forward would keep calling the old one.
   *
   * <pre>{@code
   * protected void assignChild(String name, Module replacement) {
   *   if (!name.equals("fc")) {
   *     super.assignChild(name, replacement);
   *   }
   *   fc = replacement;
   * }
   * }</pre>
   */
  protected void assignChild(String name, Module replacement) {
    throw new GraftException(typeName() + " cannot replace its child '" + name + "': its forward keeps using the "
        + "module it registered (a module that can take a new one overrides Module.assignChild)");
  }

  /** Runs {@code fn} on every module (this one included), children first as in PyTorch's {@code apply}. */
  public final Module apply(Consumer<Module> fn) {
    for (Module c : children.values()) {
      c.apply(fn);
    }
    fn.accept(this);
    return this;
  }

  // ---------------------------------------------------------------- modes

  /** Sets training mode on this module and every descendant; returns {@code this}. */
  public Module train(boolean mode) {
    training = mode;
    for (Module c : children.values()) {
      c.train(mode);
    }
    return this;
  }

  /** {@code train(true)}: training mode for this module and every descendant; returns {@code this}. */
  public final Module train() {
    return train(true);
  }

  /**
   * {@code train(false)}: evaluation mode (dropout off, batch norm on running statistics) for this module and every
   * descendant; returns {@code this}.
   */
  public final Module eval() {
    return train(false);
  }

  /** Sets this module's flag only (used to restore a saved state of the whole tree). */
  final void setOwnTrainingFlag(boolean mode) {
    training = mode;
  }

  /** Whether this module is in training mode (PyTorch's {@code training}). */
  public final boolean isTraining() {
    return training;
  }

  // ---------------------------------------------------------------- freezing

  /** Sets {@code requiresGrad} on every parameter below this module; returns {@code this}. */
  public final Module requiresGrad(boolean flag) {
    for (Parameter p : parameters()) {
      p.requiresGrad(flag);
    }
    return this;
  }

  /**
   * Freezes the parameters selected by dotted-name prefixes or globs ({@code "conv1"}, {@code "layer1.*"},
   * {@code "layer4.1.bn2.weight"}); see {@link Params#select}. A pattern that selects nothing is an error.
   */
  public final Module freeze(String... patterns) {
    for (Parameter p : Params.select(this, patterns).values()) {
      p.requiresGrad(false);
    }
    return this;
  }

  /** Unfreezes the parameters selected by the patterns (see {@link #freeze}). */
  public final Module unfreeze(String... patterns) {
    for (Parameter p : Params.select(this, patterns).values()) {
      p.requiresGrad(true);
    }
    return this;
  }

  /** Clears every parameter's gradient (to null, like PyTorch 2.x; see {@link Tensor#clearGrad()}). */
  public final void zeroGrad() {
    for (Parameter p : parameters()) {
      p.clearGrad();
    }
  }

  // ---------------------------------------------------------------- state dict

  /** Parameters and persistent buffers by dotted name, in registration order (live tensors, not copies). */
  public final StateDict stateDict() {
    StateDict sd = new StateDict();
    for (Map.Entry<String, Module> m : namedModules().entrySet()) {
      String prefix = m.getKey().isEmpty() ? "" : m.getKey() + ".";
      Module mod = m.getValue();
      mod.parameters.forEach((k, v) -> sd.put(prefix + k, v));
      mod.buffers.forEach((k, v) -> {
        if (!mod.nonPersistent.contains(k)) {
          sd.put(prefix + k, v);
        }
      });
    }
    return sd;
  }

  /**
   * Copies values from {@code sd} into this module's parameters and persistent buffers. Everything is checked
   * first: every missing key, unexpected key, shape mismatch (both shapes named) and dtype that cannot be
   * converted is reported in one {@link StateDictLoadException}, and nothing is changed when anything is wrong.
   * With {@code strict = false}, missing and unexpected keys are returned instead of thrown (shape mismatches
   * still throw). BatchNorm's {@code num_batches_tracked} may be absent (older checkpoints).
   */
  public final LoadResult loadStateDict(StateDict sd, boolean strict) {
    StateDict own = stateDict();
    List<String> missing = new ArrayList<>();
    List<String> unexpected = new ArrayList<>();
    List<String> mismatched = new ArrayList<>();
    for (Map.Entry<String, Tensor> e : own) {
      Tensor src = sd.get(e.getKey());
      if (src == null) {
        if (!e.getKey().endsWith("num_batches_tracked")) {
          missing.add(e.getKey());
        }
        continue;
      }
      Tensor dst = e.getValue();
      if (!Arrays.equals(src.shape(), dst.shape())) {
        mismatched.add("size mismatch for " + e.getKey() + ": copying a param with shape " + Arrays.toString(src.shape())
            + " from checkpoint, the shape in current model is " + Arrays.toString(dst.shape()));
      } else if (src.dtype().isFPType() != dst.dtype().isFPType() && !e.getKey().endsWith("num_batches_tracked")) {
        mismatched.add("dtype mismatch for " + e.getKey() + ": checkpoint has " + src.dtype() + ", model has "
            + dst.dtype());
      }
    }
    for (String k : sd.keys()) {
      if (own.get(k) == null) {
        unexpected.add(k);
      }
    }
    if (!mismatched.isEmpty() || (strict && (!missing.isEmpty() || !unexpected.isEmpty()))) {
      throw new StateDictLoadException(typeName(), strict ? missing : List.of(), strict ? unexpected : List.of(),
          mismatched);
    }
    try (var g = GradMode.disabled()) {
      for (Map.Entry<String, Tensor> e : own) {
        Tensor src = sd.get(e.getKey());
        if (src != null) {
          Tensor dst = e.getValue();
          dst.data().assign(src.dtype() == dst.dtype() ? src.data() : src.data().castTo(dst.dtype()));
        }
      }
    }
    return new LoadResult(missing, unexpected);
  }

  // ---------------------------------------------------------------- printing

  /** Extra text inside the parentheses of this module's line, e.g. {@code "in_features=512, out_features=10"}. */
  protected String extraRepr() {
    return "";
  }

  /**
   * The name printed for this module and shown in summaries and error messages: the class's simple name unless
   * overridden.
   */
  public String typeName() {
    return getClass().getSimpleName();
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(typeName()).append('(').append(extraRepr());
    if (!children.isEmpty()) {
      for (Map.Entry<String, Module> c : children.entrySet()) {
        String child = c.getValue().toString().replace("\n", "\n  ");
        sb.append("\n  (").append(c.getKey()).append("): ").append(child);
      }
      sb.append('\n');
    }
    return sb.append(')').toString();
  }

  /** Helper for layers: throws a ShapeException unless {@code x} has one of the ranks. */
  protected final void requireRank(Tensor x, int... ranks) {
    for (int r : ranks) {
      if (x.rank() == r) {
        return;
      }
    }
    throw ShapeException.of(typeName(), "expected input of rank " + Arrays.toString(ranks) + ", got rank " + x.rank(),
        x.shape());
  }
}
