package io.graft.benchmarks;

import io.graft.core.Tensor;
import io.graft.layers.Module;
import io.graft.optim.Optimizer;
import io.graft.zoo.models.Classifier;

/**
 * Runs training steps of a workload for peak-memory measurement of the whole process:
 * {@code /usr/bin/time -v java -cp benchmarks/target/benchmarks.jar io.graft.benchmarks.PeakMemory resnet18_224 20}
 * (compare "Maximum resident set size" with {@code tools/bench/pytorch_bench.py}'s peak RSS).
 */
public final class PeakMemory {
  private PeakMemory() {}

  public static void main(String[] args) {
    String workload = args.length > 0 ? args[0] : "resnet18_224";
    int steps = args.length > 1 ? Integer.parseInt(args[1]) : 20;
    Workloads.threads(2);
    boolean frozen = workload.contains("frozen");
    int size = workload.endsWith("_64") ? 64 : 224;
    int batch = workload.endsWith("_64") ? 32 : 8;
    Module m = Workloads.model("resnet18", 10);
    if (frozen) {
      m.requiresGrad(false);
      ((Classifier) m).head().requiresGrad(true);
    }
    Optimizer opt = Workloads.sgd(m);
    Tensor x = Workloads.input("resnet18", batch, size);
    Tensor y = Workloads.labels(batch, 10);
    long t0 = System.nanoTime();
    StepCounters counters = new StepCounters();
    for (int i = 0; i < steps; i++) {
      if (i == Math.min(5, steps - 1)) {
        counters.start();   // the steady state: after the first steps' plans, arenas and gradient buffers
      }
      Workloads.step(m, opt, Workloads.CE, x, y);
      counters.step();
    }
    System.out.printf("%s: %d steps, %.1f ms/step%n", workload, steps, (System.nanoTime() - t0) / 1e6 / steps);
    System.out.println(counters.report(workload));
  }
}
