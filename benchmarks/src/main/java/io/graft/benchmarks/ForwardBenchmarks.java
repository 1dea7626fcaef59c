package io.graft.benchmarks;

import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.layers.Module;
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
import org.openjdk.jmh.annotations.Warmup;

/** ResNet-18 inference: eval mode, no grad, 3×224², batch 8. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
@Fork(value = 1, jvmArgs = {"-Xmx4g"})
@State(Scope.Thread)
public class ForwardBenchmarks {
  @Param({"2"})
  int threads;

  Module model;
  Tensor x;

  @Setup(Level.Trial)
  public void setup() {
    Workloads.threads(threads);
    model = Workloads.model("resnet18", 1000);
    model.eval();
    x = Workloads.input("resnet18", 8, 224);
  }

  @Benchmark
  public double resnet18Eval() {
    try (var g = GradMode.disabled()) {
      return model.call(x).sum().item();
    }
  }
}
