package io.graft.finetune.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * What this Graft build is: its version, the git commit it was built from (and whether the work tree had
 * uncommitted changes), from {@code io/graft/finetune/graft-version.properties}, which the build generates
 * (finetune's pom, maven-antrun-plugin, at generate-resources); and the ND4J version on the classpath, from
 * nd4j-api's Maven metadata (the build's {@code nd4j.version} when the jar lacks it). A value that cannot be
 * known (a build without git, classes run outside a build) is {@code "unknown"}.
 */
record BuildInfo(String version, String commit, String dirty, String nd4j) {
  static final String RESOURCE = "/io/graft/finetune/graft-version.properties";
  static final String UNKNOWN = "unknown";

  private static final BuildInfo CURRENT = load();

  /** This build. */
  static BuildInfo current() {
    return CURRENT;
  }

  /** The version and commit in one phrase, e.g. {@code 0.1.0 (commit 1a2b3c4d5e6f, uncommitted changes)}. */
  String label() {
    String c = commit.equals(UNKNOWN) ? "commit unknown"
        : "commit " + commit.substring(0, Math.min(12, commit.length()));
    return version + " (" + c + (dirty.equals("true") ? ", uncommitted changes" : "") + ")";
  }

  private static BuildInfo load() {
    Properties p = properties(RESOURCE);
    Properties nd4j = properties("/META-INF/maven/org.nd4j/nd4j-api/pom.properties");
    String nd4jVersion = nd4j.getProperty("version", p.getProperty("nd4j", UNKNOWN));
    return new BuildInfo(p.getProperty("version", UNKNOWN), p.getProperty("commit", UNKNOWN),
        p.getProperty("dirty", UNKNOWN), nd4jVersion);
  }

  private static Properties properties(String resource) {
    Properties p = new Properties();
    try (InputStream in = BuildInfo.class.getResourceAsStream(resource)) {
      if (in != null) {
        p.load(in);
      }
    } catch (IOException e) {
      // an unreadable resource leaves every value unknown
    }
    return p;
  }
}
