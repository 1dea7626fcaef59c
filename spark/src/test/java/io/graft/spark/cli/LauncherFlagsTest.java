package io.graft.spark.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The distribution's launcher passes every JVM flag Spark needs on Java 17: those of spark/pom.xml's {@code
 * spark.jvm.flags}, which surefire gives this test JVM (so a flag added there and not to bin/graft fails here).
 */
class LauncherFlagsTest {
  @Test
  void binGraftHasEverySparkJvmFlag() throws Exception {
    String script = Files.readString(Path.of("..", "distribution", "src", "bin", "graft"));
    List<String> flags = ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
        .filter(a -> a.startsWith("--add-opens") || a.startsWith("-Djdk.reflect") || a.startsWith("-Dio.netty")
            || a.equals("-XX:+IgnoreUnrecognizedVMOptions"))
        .toList();
    assertFalse(flags.size() < 15, "surefire's argLine carries spark.jvm.flags: " + flags);
    for (String f : flags) {
      assertTrue(script.contains(f + " ") || script.contains(f + "\"") || script.contains(f + " \\"),
          "bin/graft lacks " + f);
    }
  }
}
