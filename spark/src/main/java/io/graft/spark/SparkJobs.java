package io.graft.spark;

import io.graft.core.GraftException;
import java.util.function.Supplier;
import org.apache.spark.SparkException;

/**
 * Runs a Spark action on the driver and turns a failed job into Graft's error: executor code never exits the JVM,
 * it throws {@link GraftException} naming the file, and Spark ships that exception back as the cause of the job's
 * {@link SparkException}; this finds it and rethrows its message on the driver, so the user reads "{@code
 * /data/cats/x.png: not a decodable image}" and not a page of Spark's stack traces. A failure without a Graft cause
 * (an executor lost, a cancelled job) becomes a {@link GraftException} with Spark's first line.
 */
public final class SparkJobs {
  private SparkJobs() {}

  /** {@code action}'s result, or {@link GraftException} with the executor's message when the job fails. */
  public static <T> T run(String what, Supplier<T> action) {
    try {
      return action.get();
    } catch (Exception e) { // Scala throws SparkException (a checked exception) undeclared
      if (e instanceof GraftException g) {
        throw g;
      }
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (t instanceof GraftException g) {
          throw new GraftException(g.getMessage(), e);
        }
      }
      if (!(e instanceof SparkException) && !(e.getCause() instanceof SparkException)) {
        throw e instanceof RuntimeException r ? r : new GraftException(what + ": " + e, e);
      }
      String msg = String.valueOf(e.getMessage());
      int nl = msg.indexOf('\n');
      throw new GraftException(what + " failed on Spark: " + (nl < 0 ? msg : msg.substring(0, nl)), e);
    }
  }
}
