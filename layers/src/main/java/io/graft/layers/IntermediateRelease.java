package io.graft.layers;

import io.graft.core.NativeMemory;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.List;
import java.util.function.UnaryOperator;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The rule by which a module call frees its intermediate activations itself instead of leaving them to the garbage
 * collector (which frees native memory only when it happens to run). {@link Module#call} runs every forward through
 * it.
 *
 * <ul>
 *   <li>When the call records no graph (a frozen stretch, or gradients disabled), its intermediates are freed as soon
 *       as it returns, so that only the activation in flight is held.
 *   <li>When it records one, they are handed to the output's graph node and freed once a backward pass through the
 *       output has finished.
 *   <li>Either is done only when every module below is declared {@link HoldsNoIntermediates} and none below has a
 *       forward hook (a hook may keep an intermediate; the called module's own hooks see only its input and output).
 *       Otherwise everything is left to the collector, as is a call that throws.
 *   <li>The call's output is never freed.
 * </ul>
 *
 * <p>{@code -Dgraft.releaseIntermediates=false} turns the rule off.
 */
public final class IntermediateRelease {
  /** System property {@code graft.releaseIntermediates}: {@code false} leaves every intermediate to the collector. */
  static final boolean ENABLED = Boolean.parseBoolean(System.getProperty("graft.releaseIntermediates", "true"));

  private static final int KEEP = 0;
  private static final int FREE_ON_RETURN = 1;
  private static final int FREE_AFTER_BACKWARD = 2;

  private IntermediateRelease() {}

  /** {@code m.forward(x)} under the rule ({@code m}'s own hooks run after it and see only x and the output). */
  static Tensor call(Module m, Tensor x) {
    int mode = ENABLED && x != null ? mode(x, true, m, null) : KEEP;
    if (mode == KEEP) {
      return m.forward(x);
    }
    NativeMemory.Scope scope = NativeMemory.openScope();
    Tensor y;
    try {
      y = m.forward(x);
    } catch (RuntimeException | Error e) {
      scope.abandon();
      throw e;
    }
    return settle(scope, y, mode);
  }

  /** {@code body(x)} under the rule, for a stretch of a forward that uses only the modules {@code used}. */
  static Tensor run(Tensor x, UnaryOperator<Tensor> body, Module... used) {
    int mode = ENABLED && x != null ? mode(x, false, null, used) : KEEP;
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
    return settle(scope, y, mode);
  }

  private static Tensor settle(NativeMemory.Scope scope, Tensor y, int mode) {
    scope.keep(y == null ? null : y.data());
    if (mode == FREE_ON_RETURN && !(y != null && y.requiresGrad() && GradMode.isEnabled())) {
      scope.close();
    } else { // (a graph was recorded after all, from a tensor requiring grad that no check saw: keep it safe)
      List<INDArray> rest = scope.handOver();
      if (y != null && y.gradFn() != null) {
        y.gradFn().releaseAfterBackward(rest);
      } // else: a graph that does not reach the output; its arrays stay with the collector
    }
    return y;
  }

  /**
   * What to do for a call over {@code called} (its own hooks allowed when {@code calledHooksAllowed}) or over the
   * modules {@code used} (none of which may have hooks).
   */
  private static int mode(Tensor x, boolean calledHooksAllowed, Module called, Module[] used) {
    boolean grad = GradMode.isEnabled();
    boolean records = grad && x.requiresGrad();
    ArrayDeque<Module> todo = new ArrayDeque<>();
    if (called != null) {
      todo.add(called);
    } else {
      Collections.addAll(todo, used);
    }
    boolean root = calledHooksAllowed;
    while (!todo.isEmpty()) {
      Module m = todo.pop();
      if (!HOLDS_NO_INTERMEDIATES.get(m.getClass()) || (!root && m.hasForwardHooks())) {
        return KEEP;
      }
      root = false;
      if (grad && !records) {
        for (Parameter p : m.ownParameters()) {
          if (p.requiresGrad()) {
            records = true;
            break;
          }
        }
      }
      todo.addAll(m.childModules());
    }
    return records ? FREE_AFTER_BACKWARD : FREE_ON_RETURN;
  }

  /** Whether a class declares {@link HoldsNoIntermediates} itself (read once per class). */
  private static final ClassValue<Boolean> HOLDS_NO_INTERMEDIATES = new ClassValue<>() {
    @Override
    protected Boolean computeValue(Class<?> c) {
      return c.isAnnotationPresent(HoldsNoIntermediates.class);
    }
  };
}
