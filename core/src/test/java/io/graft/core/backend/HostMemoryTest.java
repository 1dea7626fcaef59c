package io.graft.core.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.NativeMemory;
import io.graft.core.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * javacpp's per-allocation physical-bytes check is off under Graft (no read of {@code /proc/self/statm} per native
 * allocation), and Graft's own cap stands in for it. Each case runs in a fresh JVM, since javacpp reads its setting
 * once, when it loads.
 */
class HostMemoryTest {
  static final int ALLOCATIONS = 2000;

  /** Child: allocates and frees {@link #ALLOCATIONS} arrays, then prints the read system calls that took. */
  public static void main(String[] args) throws IOException {
    Tensor.zeros(1);   // Graft starts as an application's first call does
    for (int i = 0; i < 50; i++) {
      NativeMemory.release(NativeMemory.uninitialized(DataType.FLOAT, 16, 16));
    }
    long before = readCalls();
    for (int i = 0; i < ALLOCATIONS; i++) {
      NativeMemory.release(NativeMemory.uninitialized(DataType.FLOAT, 16, 16));
    }
    long reads = readCalls() - before - 1;   // (less readCalls' own read)
    System.out.println("reads " + reads + " cap " + HostMemory.physicalCap());
  }

  static long readCalls() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/io"))) {
      if (line.startsWith("syscr:")) {
        return Long.parseLong(line.substring(6).trim());
      }
    }
    throw new IllegalStateException("no syscr in /proc/self/io");
  }

  static long[] child(String... jvmArgs) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx512m"));
    cmd.addAll(List.of(jvmArgs));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), HostMemoryTest.class.getName()));
    Path log = Files.createTempFile("hostmemory", ".log");
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("the child did not finish in 120 s");
      }
      String out = null;
      for (String line : Files.readAllLines(log)) {
        if (line.startsWith("reads ")) {
          out = line;
        }
      }
      assertNotNull(out, "no result; child log:\n" + Files.readString(log));
      String[] f = out.split(" ");
      return new long[] {Long.parseLong(f[1]), Long.parseLong(f[3])};
    } finally {
      Files.deleteIfExists(log);
    }
  }

  @Test
  void allocationsReadNoProcfsAndGraftKeepsTheCap() throws Exception {
    long[] graft = child("-Dgraft.maxPhysicalBytes=3g");
    long[] javacpp = child("-Dorg.bytedeco.javacpp.maxPhysicalBytes=3g");
    System.out.printf("HostMemoryTest: %d allocations read procfs %d times under Graft's setting, %d times with "
        + "javacpp's own check%n", ALLOCATIONS, graft[0], javacpp[0]);
    // javacpp's check reads statm at least once per allocation (each array also has shape descriptors)
    assertTrue(javacpp[0] >= ALLOCATIONS, "javacpp's own check: " + javacpp[0] + " reads");
    // without it: none per allocation (the JVM's own threads and class loading read a little: ~20 measured)
    assertTrue(graft[0] < ALLOCATIONS / 20, "read system calls for " + ALLOCATIONS + " allocations: " + graft[0]);
    assertEquals(3L << 30, graft[1], "Graft's cap, from -Dgraft.maxPhysicalBytes");
    assertEquals(0, javacpp[1], "no second cap where the user set javacpp's");
  }
}
