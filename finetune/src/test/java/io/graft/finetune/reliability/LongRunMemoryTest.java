package io.graft.finetune.reliability;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.random.Rng;
import io.graft.layers.loss.CrossEntropyLoss;
import io.graft.optim.SGD;
import io.graft.zoo.models.SmallCNN;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * 3,000 training steps of smallcnn and 10,000 eval-mode forward passes keep resident memory (heap + native) and the
 * heap flat: after the first third of a run, neither grows by more than a fixed margin. The curves are printed (and
 * recorded in docs/reliability.md).
 */
class LongRunMemoryTest {
  static final long MIB = 1 << 20;

  static long rss() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    throw new IllegalStateException("no VmRSS");
  }

  /** Heap in use after the last collection of each pool (the young generation's sawtooth left out). */
  static long heap() {
    long used = 0;
    for (java.lang.management.MemoryPoolMXBean p : java.lang.management.ManagementFactory.getMemoryPoolMXBeans()) {
      java.lang.management.MemoryUsage u = p.getCollectionUsage();
      if (p.getType() == java.lang.management.MemoryType.HEAP && u != null) {
        used += u.getUsed();
      }
    }
    return used;
  }

  static void assertFlat(String what, List<long[]> curve) {
    StringBuilder sb = new StringBuilder(what + " (step: RSS MiB / heap after GC MiB):");
    for (int i = 0; i < curve.size(); i += Math.max(1, curve.size() / 12)) {
      long[] p = curve.get(i);
      sb.append(String.format(" %d: %d/%d", p[0], p[1] / MIB, p[2] / MIB));
    }
    System.out.println(sb);
    // After the first third (warm-up: allocator arenas, the GC budget), compare the middle third with the last
    // third by their medians: single samples swing by +-150 MiB as glibc returns and retakes memory, a leak moves
    // the whole last third up (64 MiB over ~1000 training steps is 64 KiB a step, a small fraction of one step's
    // activations and gradients); 20 samples a third (every 50 steps, every 200 passes) keep the medians steady
    int third = curve.size() / 3;
    List<long[]> middle = curve.subList(third, 2 * third);
    List<long[]> last = curve.subList(2 * third, curve.size());
    long rssGrowth = median(last, 1) - median(middle, 1);
    long heapGrowth = median(last, 2) - median(middle, 2);
    System.out.printf("%s: median RSS %d -> %d MiB, median heap %d -> %d MiB (middle -> last third)%n", what,
        median(middle, 1) / MIB, median(last, 1) / MIB, median(middle, 2) / MIB, median(last, 2) / MIB);
    assertTrue(rssGrowth < 64 * MIB, what + ": resident memory grew by " + rssGrowth / MIB + " MiB");
    assertTrue(heapGrowth < 32 * MIB, what + ": Java heap grew by " + heapGrowth / MIB + " MiB");
  }

  static long median(List<long[]> samples, int column) {
    long[] v = samples.stream().mapToLong(p -> p[column]).sorted().toArray();
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  @Test
  void trainingAndInferenceStayFlat() {
    SmallCNN m = new SmallCNN(10);
    SGD opt = new SGD(SGD.Options.lr(0.01).withMomentum(0.9), m.namedParameters());
    CrossEntropyLoss ce = new CrossEntropyLoss();
    Tensor x = Tensor.randn(new Rng(1), 32, 1, 28, 28);
    long[] y = new long[32];
    for (int i = 0; i < 32; i++) {
      y[i] = i % 10;
    }
    Tensor labels = Tensor.fromArray(y, 32);
    List<long[]> train = new ArrayList<>();
    for (int step = 1; step <= 3000; step++) {
      opt.zeroGrad();
      ce.forward(m.call(x), labels).backward();
      opt.step();
      if (step % 50 == 0) {
        train.add(new long[] {step, rss(), heap()});
      }
    }
    assertFlat("3000 training steps", train);
    m.eval();
    List<long[]> eval = new ArrayList<>();
    try (var g = GradMode.disabled()) {
      for (int i = 1; i <= 10_000; i++) {
        m.call(x).sum().item();
        if (i % 200 == 0) {
          eval.add(new long[] {i, rss(), heap()});
        }
      }
    }
    assertFlat("10000 eval forwards", eval);
  }
}
