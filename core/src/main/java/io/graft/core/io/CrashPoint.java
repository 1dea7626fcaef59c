package io.graft.core.io;

import io.graft.core.GraftException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Named points in Graft's file writing where a crash test can stop this process, so that it kills the process at a
 * moment it chose rather than after a sleep. Off (one null check) unless the JVM was started with
 * {@code -Dgraft.crashpoint=NAME,DIR,SKIP}: the first SKIP arrivals at point NAME pass, the next one creates
 * {@code DIR/NAME.reached} (holding the process id) and then blocks forever, for the test to SIGKILL the process.
 *
 * <p>Points: {@code checkpoint.before-write} and {@code checkpoint.after-write} (around a training checkpoint's
 * atomic write), {@code safetensors.mid-write} (a safetensors file's header is in its temporary file, flushed, and
 * the tensors are not).
 */
public final class CrashPoint {
  /** The system property that arms a point. */
  public static final String PROPERTY = "graft.crashpoint";

  private static final String[] SPEC = parse(System.getProperty(PROPERTY));
  private static final AtomicInteger PASSED = new AtomicInteger();

  private CrashPoint() {}

  private static String[] parse(String spec) {
    if (spec == null || spec.isEmpty()) {
      return null;
    }
    String[] p = spec.split(",", -1);
    if (p.length != 3) {
      throw new GraftException("-D" + PROPERTY + "=" + spec + ": expected NAME,DIR,SKIP");
    }
    try {
      Integer.parseInt(p[2]);
    } catch (NumberFormatException e) {
      throw new GraftException("-D" + PROPERTY + "=" + spec + ": SKIP '" + p[2] + "' is not a number");
    }
    return p;
  }

  /** Whether some point is armed in this JVM. */
  public static boolean armed() {
    return SPEC != null;
  }

  /** Passes, or at the armed point's chosen arrival announces it in a file and blocks until the process is killed. */
  public static void reach(String name) {
    if (SPEC == null || !SPEC[0].equals(name) || PASSED.getAndIncrement() < Integer.parseInt(SPEC[2])) {
      return;
    }
    try {
      Path flag = Path.of(SPEC[1]).resolve(name + ".reached");
      Files.write(flag, String.valueOf(ProcessHandle.current().pid()).getBytes(StandardCharsets.US_ASCII));
    } catch (IOException e) {
      throw new GraftException("crash point " + name + ": cannot announce it in " + SPEC[1] + ": " + e.getMessage(), e);
    }
    while (true) {
      try {
        Thread.sleep(Long.MAX_VALUE);
      } catch (InterruptedException e) {
        // keep waiting for the kill
      }
    }
  }
}
