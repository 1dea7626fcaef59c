package io.graft.benchmarks;

import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.layers.Module;
import io.graft.optim.AdamW;
import io.graft.optim.Optimizer;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * The optimizer step alone on ResNet-18's parameters — SGD with momentum, and AdamW with PyTorch's defaults (lr 1e-3,
 * weight decay 0.01) — frozen backbone (only fc updates) vs all trainable.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"-Xmx4g"})
@State(Scope.Thread)
public class OptimizerBenchmarks {
  @Param({"frozen", "full"})
  String mode;

  @Param({"2"})
  int threads;

  Optimizer opt;
  Optimizer adamW;

  @Setup(Level.Trial)
  public void setup() {
    Workloads.threads(threads);
    Module m = Workloads.model("resnet18", 10);
    if (mode.equals("frozen")) {
      m.requiresGrad(false);
      ((Classifier) m).head().requiresGrad(true);
    }
    for (Parameter p : m.parameters()) {
      if (p.requiresGrad()) {
        p.setGrad(Tensor.full(1e-3, p.shape()));
      }
    }
    opt = Workloads.sgd(m);
    adamW = new AdamW(AdamW.defaults(1e-3), m.namedParameters());
  }

  @Benchmark
  public int sgdMomentumStep() {
    opt.step();
    return opt.stateSize();
  }

  @Benchmark
  public int adamWStep() {
    adamW.step();
    return adamW.stateSize();
  }
}
