package io.graft.core;

import java.util.Arrays;

/**
 * A shape or dtype that an op cannot accept. Thrown in Java, before any native call, so a bad shape never
 * reaches libnd4j (where it could take the JVM down).
 */
public final class ShapeException extends GraftException {
  /** A shape error whose {@code message} names the op and the shapes at fault; {@link #of} builds the usual form. */
  public ShapeException(String message) {
    super(message);
  }

  /** {@code "op: message (shapes [a], [b])"}. */
  public static ShapeException of(String op, String message, long[]... shapes) {
    StringBuilder sb = new StringBuilder(op).append(": ").append(message);
    if (shapes.length > 0) {
      sb.append(" (shapes");
      for (int i = 0; i < shapes.length; i++) {
        sb.append(i == 0 ? " " : ", ").append(Arrays.toString(shapes[i]));
      }
      sb.append(')');
    }
    return new ShapeException(sb.toString());
  }
}
