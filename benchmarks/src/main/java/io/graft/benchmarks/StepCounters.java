package io.graft.benchmarks;

import io.graft.core.NativeMemory;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Counts over a run of training steps, for the step benchmarks to print beside their times: Graft's
 * {@code System.gc()} calls ({@link NativeMemory#collections()}), the process's minor page faults
 * ({@code /proc/self/stat}), its read system calls ({@code /proc/self/io}: javacpp's physical-bytes check reads
 * {@code /proc/self/statm} once per native allocation when it is on) and the Java heap bytes the benchmark thread
 * allocated (wrapper objects). procfs is read at {@link #start} and {@link #report} only, never inside a step; the
 * counts are process-wide except the heap bytes, so they include the JMH harness's own (small) share.
 */
final class StepCounters {
  private long steps;
  private long collections;
  private long faults;
  private long reads;
  private long heapBytes;

  /** Starts counting (e.g. at the start of a JMH iteration). */
  void start() {
    steps = 0;
    collections = NativeMemory.collections();
    faults = minorFaults();
    reads = readCalls();
    heapBytes = allocatedBytes();
  }

  /** Counts one step. */
  void step() {
    steps++;
  }

  /** One line: the counts since {@link #start}, per step where that is the useful unit. */
  String report(String workload) {
    long n = Math.max(1, steps);
    long gc = NativeMemory.collections() - collections;
    return String.format("%s counters over %d steps: System.gc() calls by Graft %d (%.1f per 200 steps), minor page "
        + "faults %.0f per step, read syscalls %.1f per step, heap bytes allocated %.0f per step", workload, steps, gc,
        gc * 200.0 / n, (minorFaults() - faults) / (double) n, (readCalls() - reads) / (double) n,
        (allocatedBytes() - heapBytes) / (double) n);
  }

  /** The process's minor page faults so far (/proc/self/stat, field 10), or -1 where procfs is missing. */
  static long minorFaults() {
    try {
      String s = Files.readString(Path.of("/proc/self/stat"));
      return Long.parseLong(s.substring(s.lastIndexOf(')') + 2).split(" ")[7]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** The process's read system calls so far (/proc/self/io, syscr), or -1 where procfs is missing. */
  static long readCalls() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/io"))) {
        if (line.startsWith("syscr:")) {
          return Long.parseLong(line.substring(6).trim());
        }
      }
    } catch (IOException | RuntimeException e) {
      return -1;
    }
    return -1;
  }

  /** Heap bytes allocated by this thread so far. */
  static long allocatedBytes() {
    return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getThreadAllocatedBytes(
        Thread.currentThread().getId());
  }
}
