package io.graft.spark;

import org.apache.spark.sql.SparkSession;

/**
 * The Spark sessions Graft starts itself (the command line, tests): loopback-bound for {@code local[N]}, no web UI,
 * and barrier stages that do not wait 15 s between slot checks. A {@code spark-submit} user passes their own
 * session instead; Graft never changes an existing session's configuration. Spark's log noise is kept down by
 * {@link SparkLogging#quiet()} unless logging was configured by someone else.
 */
public final class SparkSessions {
  private SparkSessions() {}

  /**
   * A session for {@code master} ({@code local[2]}, {@code spark://host:7077}, ...) named {@code appName}; reuses the
   * JVM's active session if one exists (Spark allows one {@code SparkContext} per JVM).
   */
  public static SparkSession start(String master, String appName) {
    SparkLogging.quiet(); // before Spark's first log line
    scala.Option<SparkSession> running = SparkSession.getActiveSession();
    if (running.isEmpty()) {
      running = SparkSession.getDefaultSession();
    }
    if (running.isDefined()) {
      return running.get();
    }
    SparkSession.Builder b = SparkSession.builder().master(master).appName(appName)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        // a barrier job submitted before its executors registered re-checks for free slots at this interval
        .config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s");
    if (master.startsWith("local")) {
      b.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1");
    }
    return b.getOrCreate();
  }
}
