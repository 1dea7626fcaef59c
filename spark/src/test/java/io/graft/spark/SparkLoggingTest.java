package io.graft.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.junit.jupiter.api.Test;

/**
 * With log4j2 unconfigured (as in this test JVM), starting a session loads Graft's quiet configuration: Spark's INFO
 * lines are off, and Spark sees a configured log4j2, so it does not print "Using Spark's default log4j profile".
 */
class SparkLoggingTest {
  @Test
  void anUnconfiguredLog4j2GetsGraftsQuietConfiguration() {
    SparkTests.local2();
    LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
    String source = String.valueOf(ctx.getConfiguration().getConfigurationSource().getLocation());
    assertTrue(source.endsWith(SparkLogging.LOG4J2_CONFIG), source);
    Level spark = LogManager.getLogger("org.apache.spark.SparkContext").getLevel(); // OFF once a CLI test ran
    assertTrue(spark.isMoreSpecificThan(Level.WARN), "Spark logs at " + spark);
    assertEquals(Level.OFF, LogManager.getLogger("org.apache.hadoop.util.NativeCodeLoader").getLevel());
  }
}
