package io.graft.core;

/**
 * The one exception family Graft throws for bad input: a wrong shape, a broken file, an unsupported
 * configuration. The message always names what is at fault (the op, argument, file, key or shape).
 */
public class GraftException extends RuntimeException {
  /** An exception whose {@code message} names the op, argument, file, key or shape at fault. */
  public GraftException(String message) {
    super(message);
  }

  /**
   * As {@link #GraftException(String)}, keeping the lower-level {@code cause} (an {@code IOException}, a parse error).
   */
  public GraftException(String message, Throwable cause) {
    super(message, cause);
  }
}
