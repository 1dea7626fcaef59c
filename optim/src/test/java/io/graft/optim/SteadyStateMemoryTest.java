package io.graft.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.NativeMemory;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import io.graft.layers.Flatten;
import io.graft.layers.Linear;
import io.graft.layers.Sequential;
import io.graft.layers.activation.ReLU;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.loss.CrossEntropyLoss;
import io.graft.layers.norm.BatchNorm2d;
import io.graft.layers.pool.AdaptiveAvgPool2d;
import io.graft.layers.pool.MaxPool2d;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A steady training loop (zeroGrad, forward, backward, SGD step) of a small conv net leaves nothing to the garbage
 * collector: Graft requests no collection in 200 steps, every parameter's gradient lands in the same memory every
 * step, and native memory stays flat.
 */
class SteadyStateMemoryTest {
  static final int WARMUP = 50;
  static final int STEPS = 200;

  @Test
  void twoHundredStepsRequestNoCollectionReuseGradientBuffersAndStayFlat() throws IOException {
    Conv2d.Options pad1 = Conv2d.Options.defaults().withPadding(1);
    Sequential m = new Sequential(new Conv2d(3, 16, 3, pad1), new BatchNorm2d(16), new ReLU(), new MaxPool2d(2),
        new Conv2d(16, 32, 3, pad1), new BatchNorm2d(32), new ReLU(), new AdaptiveAvgPool2d(1), new Flatten(),
        new Linear(32, 10));
    m.train();
    SGD opt = new SGD(SGD.Options.lr(0.01).withMomentum(0.9), m.namedParameters());
    CrossEntropyLoss ce = new CrossEntropyLoss();
    Tensor x = Tensor.randn(new Rng(3), 8, 3, 32, 32);
    long[] labels = new long[8];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = i % 10;
    }
    Tensor y = Tensor.fromArray(labels, 8);
    Map<String, Long> addresses = new LinkedHashMap<>();
    long collections = 0;
    java.util.List<Long> resident = new java.util.ArrayList<>();
    long faultsAfterWarmup = 0;
    for (int step = 1; step <= WARMUP + STEPS; step++) {
      if (step == WARMUP + 1) {
        collections = NativeMemory.collections();
        faultsAfterWarmup = minorFaults();
        m.namedParameters().forEach((k, p) -> addresses.put(k, p.gradData().data().address()));
      }
      opt.zeroGrad();
      ce.forward(m.call(x), y).backward();
      opt.step();
      if (step > WARMUP && step % 10 == 0) {
        resident.add(nativeResident());
      }
      if (step > WARMUP) {
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
          assertEquals(addresses.get(e.getKey()), e.getValue().gradData().data().address(),
              e.getKey() + ": the gradient moved to new memory at step " + step);
        }
      }
    }
    long gcCalls = NativeMemory.collections() - collections;
    // medians of the first and the last five samples (every 10 steps): glibc returns and retakes memory in steps of
    // several MiB; a leak of one step's activations (a few MiB here) would add hundreds of MiB over 200 steps
    long growth = median(resident.subList(resident.size() - 5, resident.size())) - median(resident.subList(0, 5));
    long faults = (minorFaults() - faultsAfterWarmup) / STEPS;
    System.out.printf("SteadyStateMemoryTest: %d System.gc() calls in %d steps; native resident %+.1f MiB from step "
        + "%d to %d; %d minor page faults per step%n", gcCalls, STEPS, growth / 1048576.0, WARMUP, WARMUP + STEPS,
        faults);
    assertEquals(0, gcCalls, "System.gc() calls by Graft in " + STEPS + " steady steps");
    assertTrue(growth < (32L << 20), "native resident memory grew by " + growth / 1048576.0 + " MiB over " + STEPS
        + " steps");
  }

  static long median(java.util.List<Long> v) {
    return v.stream().sorted().toList().get(v.size() / 2);
  }

  /**
   * Resident memory outside the Java heap, without a collection: the process's resident set (/proc/self/smaps) less
   * the resident pages inside the heap's reserved range (from the JVM's {@code GC.heap_info}), so that the heap's
   * young generation filling up between collections does not count.
   */
  static long nativeResident() throws IOException {
    long[] heap = heapRange();
    long total = 0;
    long inHeap = 0;
    long lo = 0;
    long hi = 0;
    for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
      if (!line.isEmpty() && Character.digit(line.charAt(0), 16) >= 0 && line.indexOf('-') > 0
          && line.indexOf('-') < line.indexOf(' ')) {
        String[] r = line.substring(0, line.indexOf(' ')).split("-");
        lo = Long.parseUnsignedLong(r[0], 16);
        hi = Long.parseUnsignedLong(r[1], 16);
      } else if (line.startsWith("Rss:")) {
        long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
        total += kb;
        if (lo >= heap[0] && hi <= heap[1]) {
          inHeap += kb;
        }
      }
    }
    return (total - inHeap) * 1024;
  }

  /** {@code [start, end)} of the Java heap's reserved addresses, from the diagnostic command GC.heap_info. */
  static long[] heapRange() {
    try {
      String info = (String) java.lang.management.ManagementFactory.getPlatformMBeanServer().invoke(
          new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand"), "gcHeapInfo",
          new Object[] {new String[0]}, new String[] {String[].class.getName()});
      java.util.regex.Matcher mt = java.util.regex.Pattern.compile("\\[0x([0-9a-f]+), 0x([0-9a-f]+)\\)").matcher(info);
      if (!mt.find()) {
        throw new IllegalStateException("no heap range in GC.heap_info: " + info);
      }
      return new long[] {Long.parseUnsignedLong(mt.group(1), 16), Long.parseUnsignedLong(mt.group(2), 16)};
    } catch (javax.management.JMException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The process's minor page faults so far (/proc/self/stat, field 10). */
  static long minorFaults() throws IOException {
    String s = Files.readString(Path.of("/proc/self/stat"));
    return Long.parseLong(s.substring(s.lastIndexOf(')') + 2).split(" ")[7]);
  }
}
