package io.graft.benchmarks;

import io.graft.zoo.models.Classifier;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Whole training steps (forward, cross-entropy, backward, SGD-momentum step). {@code workload} picks model, input
 * size and batch: {@code mlp} (784-512-512-10, b256), {@code smallcnn} (1×28², b64), {@code resnet18_224}
 * (b8), {@code resnet18_64} (b32), {@code resnet18_frozen_224} (all but fc frozen, b8), {@code vit_b_16_224} and
 * {@code efficientnet_b0_224} (b8, 10 classes, dropout and stochastic depth at torchvision's defaults); and
 * {@link #forwardOnly} (ResNet-18 eval, no grad, 224², b8). After each iteration it prints a line of counts
 * ({@link StepCounters}): Graft's {@code System.gc()} calls, minor page faults, read system calls and heap bytes
 * allocated per step.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
@Fork(value = 1, jvmArgs = {"-Xmx4g"})
@State(Scope.Thread)
public class StepBenchmarks extends StepState {
  @Param({"mlp", "smallcnn", "resnet18_224", "resnet18_64", "resnet18_frozen_224", "vit_b_16_224",
      "efficientnet_b0_224"})
  String workload;

  @Param({"2"})
  int threads;

  final StepCounters counters = new StepCounters();

  @Override
  void prepare(String workload, int threads) {
    this.workload = workload;
    this.threads = threads;
    setup();
  }

  @Setup(Level.Trial)
  public void setup() {
    Workloads.threads(threads);
    String name = workload.startsWith("resnet18") ? "resnet18" : workload.replaceFirst("_224$", "");
    int batch = switch (workload) {
      case "mlp" -> 256;
      case "smallcnn" -> 64;
      case "resnet18_64" -> 32;
      default -> 8;
    };
    int size = workload.endsWith("_64") ? 64 : 224;
    model = Workloads.model(name, 10);
    if (workload.contains("frozen")) {
      model.requiresGrad(false);
      ((Classifier) model).head().requiresGrad(true);
    }
    model.train();
    opt = Workloads.sgd(model);
    x = Workloads.input(name, batch, size);
    y = Workloads.labels(batch, 10);
  }

  /** Starts the iteration's counts. */
  @Setup(Level.Iteration)
  public void startCounting() {
    counters.start();
  }

  /** Prints the iteration's counts (see {@link StepCounters}). */
  @TearDown(Level.Iteration)
  public void printCounts() {
    System.out.println(counters.report(workload));
  }

  @Benchmark
  public double trainStep() {
    counters.step();
    return step();
  }
}
