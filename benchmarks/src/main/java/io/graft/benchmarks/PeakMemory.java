package io.graft.benchmarks;

/**
 * Runs training steps of a workload for peak-memory measurement of the whole process:
 * {@code /usr/bin/time -v java -cp benchmarks/target/benchmarks.jar io.graft.benchmarks.PeakMemory WORKLOAD 20}
 * (compare "Maximum resident set size" with the peak RSS that {@code tools/bench/pytorch_bench.py} and
 * {@code tools/bench/pytorch_lora_bench.py} print). WORKLOAD is any of {@link StepBenchmarks}' workloads
 * ({@code resnet18_224}, {@code vit_b_16_224}, {@code efficientnet_b0_224}, ...) or of {@link LoraStepBenchmarks}'
 * ({@code vit_b_16_lora_224}, {@code vit_b_16_full_224}), set up exactly as the benchmark sets it up.
 */
public final class PeakMemory {
  private PeakMemory() {}

  public static void main(String[] args) {
    String workload = args.length > 0 ? args[0] : "resnet18_224";
    int steps = args.length > 1 ? Integer.parseInt(args[1]) : 20;
    boolean lora = workload.startsWith("vit_b_16_lora") || workload.startsWith("vit_b_16_full");
    StepState b = lora ? new LoraStepBenchmarks() : new StepBenchmarks();
    b.prepare(workload, 2);
    long t0 = System.nanoTime();
    StepCounters counters = new StepCounters();
    for (int i = 0; i < steps; i++) {
      if (i == Math.min(5, steps - 1)) {
        counters.start();   // the steady state: after the first steps' plans, arenas and gradient buffers
      }
      b.step();
      counters.step();
    }
    System.out.printf("%s: %d steps, %.1f ms/step%n", workload, steps, (System.nanoTime() - t0) / 1e6 / steps);
    System.out.println(counters.report(workload));
  }
}
