package io.graft.core;

/**
 * The one exception family Graft throws for bad input: a wrong shape, a broken file, an unsupported
 * configuration. The message always names what is at fault (the op, argument, file, key or shape).
 */
public class GraftException extends RuntimeException {
  public GraftException(String message) {
    super(message);
  }

  public GraftException(String message, Throwable cause) {
    super(message, cause);
  }
}
