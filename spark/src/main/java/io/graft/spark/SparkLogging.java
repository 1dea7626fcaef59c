package io.graft.spark;

import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Keeps Spark's log noise out of the user's way, without overriding a configuration someone chose. Spark logs
 * through SLF4J. Where SLF4J is bound to log4j2 (Spark's own binding: tests, {@code spark-submit}) and nothing has
 * configured log4j2, Graft's {@code io/graft/spark/log4j2-graft.properties} is loaded (warnings and errors only, one
 * line each on standard error) before Spark's first log line, so Spark neither logs its INFO lines nor prints "Using
 * Spark's default log4j profile". Where SLF4J is bound to java.util.logging (the {@code graft} distribution, whose
 * CLI logging that is), {@link #quietForCli} turns Spark's, Hadoop's and their libraries' loggers off: the command
 * line reports a failed job itself, naming the file.
 */
public final class SparkLogging {
  /** The configuration resource loaded into an unconfigured log4j2. */
  public static final String LOG4J2_CONFIG = "io/graft/spark/log4j2-graft.properties";
  /** Loggers the CLI silences (java.util.logging holds loggers weakly: these keep them and their levels). */
  private static final List<Logger> CLI_SILENCED = List.of(Logger.getLogger("org.apache.spark"),
      Logger.getLogger("org.sparkproject"), Logger.getLogger("org.apache.hadoop"), Logger.getLogger("io.netty"),
      Logger.getLogger("org.apache.parquet"));

  /** Whether {@link #quiet()} loaded Graft's log4j2 configuration. */
  private static boolean applied;

  private SparkLogging() {}

  /** Loads Graft's log4j2 configuration when SLF4J is bound to an unconfigured log4j2; otherwise does nothing. */
  public static synchronized void quiet() {
    String binding = org.slf4j.LoggerFactory.getILoggerFactory().getClass().getName();
    if (!binding.startsWith("org.apache.logging.slf4j")) {
      return;
    }
    try {
      applied |= (Boolean) Class.forName("io.graft.spark.SparkLogging$Log4j2").getMethod("configureIfDefault")
          .invoke(null);
    } catch (ReflectiveOperationException | LinkageError e) {
      // log4j2's core is not on the class path: Spark configures (or not) its logging itself
    }
  }

  /**
   * Silences Spark's, Hadoop's, Netty's and Parquet's loggers for the command line: in java.util.logging (the
   * distribution's binding), and in log4j2 when {@link #quiet()} configured it (never a configuration someone chose).
   */
  public static synchronized void quietForCli() {
    for (Logger l : CLI_SILENCED) {
      l.setLevel(Level.OFF);
    }
    if (applied) {
      try {
        Class.forName("io.graft.spark.SparkLogging$Log4j2").getMethod("silence", List.class)
            .invoke(null, CLI_SILENCED.stream().map(Logger::getName).toList());
      } catch (ReflectiveOperationException | LinkageError e) {
        // not log4j2 after all: nothing more to silence
      }
    }
  }

  /** The log4j2-specific part, loaded only when log4j2's core is present. */
  static final class Log4j2 {
    private Log4j2() {}

    /**
     * Reconfigures log4j2 from {@link #LOG4J2_CONFIG} if it still runs its default configuration; returns whether it
     * did.
     */
    public static boolean configureIfDefault() throws java.net.URISyntaxException {
      var ctx = (org.apache.logging.log4j.core.LoggerContext) org.apache.logging.log4j.LogManager.getContext(false);
      if (!(ctx.getConfiguration() instanceof org.apache.logging.log4j.core.config.DefaultConfiguration)) {
        return false;
      }
      java.net.URL url = SparkLogging.class.getClassLoader().getResource(LOG4J2_CONFIG);
      if (url == null) {
        return false;
      }
      ctx.setConfigLocation(url.toURI());
      return true;
    }

    /** Turns the named log4j2 loggers off. */
    public static void silence(List<String> names) {
      for (String n : names) {
        org.apache.logging.log4j.core.config.Configurator.setLevel(n, org.apache.logging.log4j.Level.OFF);
      }
    }
  }
}
