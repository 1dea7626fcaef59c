package io.graft.layers;

import io.graft.core.GraftException;
import io.graft.core.NativeMemory;
import io.graft.core.Parameter;
import io.graft.core.ShapeException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.layers.params.Params;
import java.lang.reflect.Field;
import java.lang.reflect.InaccessibleObjectException;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

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
 * <p>Replacing a child by path ({@code set("fc", new Linear(512, 10))}) updates the registry in place (order
 * kept) and the parent's field that held the old child, so {@code forward} sees the new module. A field that
 * cannot take the new module (final, or a narrower type) makes {@code set} fail before anything changes.
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
   * collector (which frees native memory only when it happens to run): when the call records no graph (a frozen
   * backbone, or gradients disabled) as soon as it returns, so that only the activation in flight is held; when it
   * does, once a backward pass through its output has finished. This is done only when every module below is one
   * of Graft's (known to keep no reference to what its forward computes) and none below has a forward hook (a
   * hook may keep an intermediate); the call's output is never freed. {@code -Dgraft.releaseIntermediates=false}
   * turns it off.
   */
  public final Tensor call(Tensor x) {
    Tensor y = scoped(x, this::forward, true, this);
    for (ForwardHook h : hooks.toArray(ForwardHook[]::new)) {
      h.afterForward(this, x, y);
    }
    return y;
  }

  /**
   * Runs {@code body} on {@code x} — a stretch of this module's forward that uses only the modules {@code used} —
   * under {@link #call}'s rule for intermediate activations. For a module whose torchvision layout has no
   * container around such a stretch (ResNet's stem and stages before {@code fc}).
   */
  protected final Tensor releasingIntermediates(Tensor x, java.util.function.UnaryOperator<Tensor> body,
      Module... used) {
    return scoped(x, body, false, used);
  }

  /**
   * {@code second.call(first.call(x))}, computed by {@code fused} in one go (under {@link #call}'s rule for
   * intermediate activations) unless either module has forward hooks, which must see the value between them, or
   * submodules, whose calls (and hooks) {@code fused} would skip: then the two calls. For a pair of leaf modules a
   * backend computes in one pass, such as a batch norm and the ReLU after it ({@code BatchNorm.forwardRelu});
   * {@code fused} must compute exactly what the two calls would.
   */
  protected static Tensor callFused(Module first, Module second, Tensor x,
      java.util.function.UnaryOperator<Tensor> fused) {
    if (!first.hooks.isEmpty() || !second.hooks.isEmpty() || !first.children.isEmpty()
        || !second.children.isEmpty()) {
      return second.call(first.call(x));
    }
    return scoped(x, fused, false, first, second);
  }

  /** System property: {@code false} leaves every intermediate to the collector (see {@link #call}). */
  static final boolean RELEASE_INTERMEDIATES = Boolean.parseBoolean(
      System.getProperty("graft.releaseIntermediates", "true"));

  private static Tensor scoped(Tensor x, java.util.function.UnaryOperator<Tensor> body, boolean callerHooksAllowed,
      Module... roots) {
    int mode = RELEASE_INTERMEDIATES && x != null ? releaseMode(x, callerHooksAllowed, roots) : KEEP;
    if (mode == KEEP) {
      return body.apply(x);
    }
    NativeMemory.Scope scope = NativeMemory.openScope();
    Tensor y;
    try {
      y = body.apply(x);
    } catch (RuntimeException | Error e) {
      scope.abandon();
      throw e;
    }
    scope.keep(y == null ? null : y.data());
    if (mode == FREE_ON_RETURN && !(y != null && y.requiresGrad() && GradMode.isEnabled())) {
      scope.close();
    } else { // (a graph was recorded after all, from a tensor requiring grad that no check saw: keep it safe)
      java.util.List<org.nd4j.linalg.api.ndarray.INDArray> rest = scope.handOver();
      if (y != null && y.gradFn() != null) {
        y.gradFn().releaseAfterBackward(rest);
      } // else: a graph that does not reach the output; its arrays stay with the collector
    }
    return y;
  }

  private static final int KEEP = 0;
  private static final int FREE_ON_RETURN = 1;
  private static final int FREE_AFTER_BACKWARD = 2;

  /** {@code callerHooksAllowed}: the first root is the module being called (its own hooks see only x and y). */
  private static int releaseMode(Tensor x, boolean callerHooksAllowed, Module... roots) {
    boolean grad = GradMode.isEnabled();
    boolean records = grad && x.requiresGrad();
    java.util.ArrayDeque<Module> todo = new java.util.ArrayDeque<>(java.util.Arrays.asList(roots));
    boolean root = callerHooksAllowed;
    while (!todo.isEmpty()) {
      Module m = todo.pop();
      if (!isGraftModule(m.getClass()) || (!root && !m.hooks.isEmpty())) {
        return KEEP;
      }
      root = false;
      if (grad && !records) {
        for (Parameter p : m.parameters.values()) {
          if (p.requiresGrad()) {
            records = true;
            break;
          }
        }
      }
      todo.addAll(m.children.values());
    }
    return records ? FREE_AFTER_BACKWARD : FREE_ON_RETURN;
  }

  /**
   * Graft's own layers (this jar) and architectures ({@code io.graft.zoo.models}): their forward keeps no
   * reference to what it computes. A subclass defined elsewhere (a user's, a test's) is not one of them.
   */
  private static boolean isGraftModule(Class<?> c) {
    return GRAFT_MODULE.get(c);
  }

  private static final ClassValue<Boolean> GRAFT_MODULE = new ClassValue<>() {
    @Override
    protected Boolean computeValue(Class<?> c) {
      String n = c.getName();
      if (n.startsWith("io.graft.zoo.models.")) {
        try {
          return sameCodeSource(c, Class.forName("io.graft.zoo.models.Zoo", false, c.getClassLoader()));
        } catch (ClassNotFoundException | LinkageError e) {
          return false;
        }
      }
      return n.startsWith("io.graft.layers.") && sameCodeSource(c, Module.class);
    }
  };

  private static boolean sameCodeSource(Class<?> a, Class<?> b) {
    java.security.CodeSource ca = a.getProtectionDomain().getCodeSource();
    java.security.CodeSource cb = b.getProtectionDomain().getCodeSource();
    return ca != null && cb != null && java.util.Objects.equals(ca.getLocation(), cb.getLocation());
  }

  /** Adds a hook run after every {@link #call}; returns a handle whose {@code close()} removes it. */
  public final AutoCloseable addForwardHook(ForwardHook hook) {
    hooks.add(hook);
    return () -> hooks.remove(hook);
  }

  // ---------------------------------------------------------------- registration

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

  /** Replaces the child at a dotted path (it must exist); returns the module that was there. */
  public final Module set(String path, Module replacement) {
    int dot = path.lastIndexOf('.');
    Module parent = dot < 0 ? this : get(path.substring(0, dot));
    String name = path.substring(dot + 1);
    Module old = parent.children.get(name);
    if (old == null) {
      throw new GraftException("set('" + path + "'): " + parent.typeName() + " has no child '" + name + "'; children: "
          + parent.children.keySet());
    }
    if (replacement == null) {
      throw new GraftException("set('" + path + "'): replacement is null (use new Identity())");
    }
    List<Field> fields = parent.fieldsHolding(old, replacement, path);
    parent.children.put(name, replacement);
    for (Field f : fields) {
      try {
        f.set(parent, replacement);
      } catch (IllegalAccessException e) {
        throw new IllegalStateException(e);
      }
    }
    return old;
  }

  /** The instance fields of this module that reference {@code old}; checks that each can take {@code repl}. */
  private List<Field> fieldsHolding(Module old, Module repl, String path) {
    List<Field> out = new ArrayList<>();
    for (Class<?> c = getClass(); c != Module.class && c != null; c = c.getSuperclass()) {
      for (Field f : c.getDeclaredFields()) {
        if (Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) {
          continue;
        }
        try {
          f.setAccessible(true);
          if (f.get(this) != old) {
            continue;
          }
        } catch (InaccessibleObjectException | IllegalAccessException e) {
          throw new GraftException("set('" + path + "'): cannot inspect field " + c.getSimpleName() + "." + f.getName()
              + " (" + e.getMessage() + "); open the package to io.graft.layers", e);
        }
        if (Modifier.isFinal(f.getModifiers())) {
          throw new GraftException("set('" + path + "'): field " + c.getSimpleName() + "." + f.getName()
              + " is final, so forward() would keep using the old module; make the field non-final");
        }
        if (!f.getType().isInstance(repl)) {
          throw new GraftException("set('" + path + "'): field " + c.getSimpleName() + "." + f.getName() + " is declared "
              + f.getType().getSimpleName() + " and cannot hold a " + repl.typeName());
        }
        out.add(f);
      }
    }
    return out;
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

  public final Module train() {
    return train(true);
  }

  public final Module eval() {
    return train(false);
  }

  /** Sets this module's flag only (used to restore a saved state of the whole tree). */
  final void setOwnTrainingFlag(boolean mode) {
    training = mode;
  }

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
