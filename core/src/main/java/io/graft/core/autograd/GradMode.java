package io.graft.core.autograd;

/**
 * Thread-local switch for graph recording, used with try-with-resources:
 * <pre>{@code
 * try (var g = GradMode.disabled()) {
 *   Tensor y = model.forward(x);   // records nothing, keeps no activations
 * }
 * }</pre>
 * Scopes nest; closing one restores the mode that was active when it opened.
 */
public final class GradMode {
  private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[] {true});

  private GradMode() {}

  /**
   * Whether ops on this thread record the graph now (PyTorch's {@code torch.is_grad_enabled()}); true unless inside
   * {@link #disabled()}.
   */
  public static boolean isEnabled() {
    return ENABLED.get()[0];
  }

  /** Disables recording until the returned scope is closed. */
  public static Scope disabled() {
    return set(false);
  }

  /** Enables recording until the returned scope is closed (e.g. inside an outer no-grad scope). */
  public static Scope enabled() {
    return set(true);
  }

  private static Scope set(boolean mode) {
    boolean[] flag = ENABLED.get();
    Scope s = new Scope(flag, flag[0]);
    flag[0] = mode;
    return s;
  }

  /** A grad-mode scope; {@link #close()} restores the previous mode. */
  public static final class Scope implements AutoCloseable {
    private final boolean[] flag;
    private final boolean previous;
    private boolean closed;

    private Scope(boolean[] flag, boolean previous) {
      this.flag = flag;
      this.previous = previous;
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        flag[0] = previous;
      }
    }
  }
}
