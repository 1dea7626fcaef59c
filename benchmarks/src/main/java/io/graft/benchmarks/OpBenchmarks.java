package io.graft.benchmarks;

import io.graft.core.Tensor;
import io.graft.core.ops.ConvOps;
import io.graft.core.ops.LinalgOps;
import io.graft.core.ops.NormOps;
import io.graft.core.ops.PoolOps;
import io.graft.core.random.Rng;
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
 * Forward + backward of single ops at ResNet-18 shapes (batch 8): the stem conv 3→64 7×7/2 at 224², a mid conv
 * 128→128 3×3 at 28² (also with frozen weights: input gradient only), batch norm (64 channels at 112²), linear 512→1000 backward, max-pool 3×3/2 backward.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"-Xmx4g"})
@State(Scope.Thread)
public class OpBenchmarks {
  @Param({"8"})
  int batch;

  @Param({"2"})
  int threads;

  Tensor stemX;
  Tensor stemW;
  Tensor midX;
  Tensor midW;
  Tensor midWFrozen;
  Tensor bnX;
  Tensor bnW;
  Tensor bnB;
  Tensor bnMean;
  Tensor bnVar;
  Tensor fcX;
  Tensor fcW;
  Tensor fcB;
  Tensor poolX;

  @Setup(Level.Trial)
  public void setup() {
    Workloads.threads(threads);
    Rng r = new Rng(1);
    stemX = Tensor.randn(r, batch, 3, 224, 224).requiresGrad(true);
    stemW = Tensor.randn(r, 64, 3, 7, 7).mul(0.05).detach().requiresGrad(true);
    midX = Tensor.randn(r, batch, 128, 28, 28).requiresGrad(true);
    midW = Tensor.randn(r, 128, 128, 3, 3).mul(0.03).detach().requiresGrad(true);
    midWFrozen = midW.detach();
    bnX = Tensor.randn(r, batch, 64, 112, 112).requiresGrad(true);
    bnW = Tensor.ones(64).requiresGrad(true);
    bnB = Tensor.zeros(64).requiresGrad(true);
    bnMean = Tensor.zeros(64);
    bnVar = Tensor.ones(64);
    fcX = Tensor.randn(r, batch, 512).requiresGrad(true);
    fcW = Tensor.randn(r, 1000, 512).mul(0.04).detach().requiresGrad(true);
    fcB = Tensor.zeros(1000).requiresGrad(true);
    poolX = Tensor.randn(r, batch, 64, 112, 112).requiresGrad(true);
  }

  private static double backward(Tensor y) {
    y.sum().backward();
    return y.numel();
  }

  @Benchmark
  public double conv2dStem7x7ForwardBackward() {
    return backward(ConvOps.conv2d(stemX, stemW, null, new int[] {2, 2}, new int[] {3, 3}, new int[] {1, 1}, 1));
  }

  @Benchmark
  public double conv2dMid3x3ForwardBackward() {
    return backward(ConvOps.conv2d(midX, midW, null, new int[] {1, 1}, new int[] {1, 1}, new int[] {1, 1}, 1));
  }

  /** The mid conv with frozen weights behind a trainable layer (partial fine-tuning): the input gradient only. */
  @Benchmark
  public double conv2dMid3x3FrozenWeightForwardBackward() {
    return backward(ConvOps.conv2d(midX, midWFrozen, null, new int[] {1, 1}, new int[] {1, 1}, new int[] {1, 1}, 1));
  }

  @Benchmark
  public double batchNormTrainForwardBackward() {
    return backward(NormOps.batchNorm(bnX, bnMean, bnVar, bnW, bnB, true, 0.1, 1e-5));
  }

  @Benchmark
  public double linearForwardBackward() {
    return backward(LinalgOps.linear(fcX, fcW, fcB));
  }

  @Benchmark
  public double maxPoolForwardBackward() {
    return backward(PoolOps.maxPool2d(poolX, new int[] {3, 3}, new int[] {2, 2}, new int[] {1, 1},
        new int[] {1, 1}));
  }
}
