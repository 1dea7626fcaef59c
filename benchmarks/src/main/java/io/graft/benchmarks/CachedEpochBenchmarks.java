package io.graft.benchmarks;

import io.graft.core.Tensor;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.recipe.FineTune;
import io.graft.finetune.train.Evaluation;
import io.graft.finetune.train.FeatureCache;
import io.graft.zoo.models.Classifier;
import io.graft.layers.Module;
import io.graft.layers.loss.Loss;
import io.graft.optim.Optimizer;
import io.graft.zoo.models.Zoo;
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
 * One training epoch of the feature-extraction workload of {@link FeatureCacheBenchmarks} (ResNet-18 frozen, new
 * 10-way head, 256 images of 3×64², batch 32) on features cached beforehand: what every epoch after the first costs
 * with the feature cache. The loop is the trainer's cached epoch: shuffled batches of cached features, head forward,
 * cross-entropy, backward, SGD step, accuracy bookkeeping. Compare with PyTorch's ordinary (uncached) epoch,
 * {@code fe_epoch} in {@code tools/bench/pytorch_bench.py}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"-Xmx4g"})
@State(Scope.Thread)
public class CachedEpochBenchmarks {
  @Param({"2"})
  int threads;

  FeatureCache cache;
  DataLoader loader;
  Module head;
  Optimizer opt;
  Loss loss;
  int epoch;

  @Setup(Level.Trial)
  public void setup() {
    Workloads.threads(threads);
    Module m = Zoo.create("resnet18", 1000);
    FineTune ft = FeatureCacheBenchmarks.featureExtraction(m);
    loader = FeatureCacheBenchmarks.loader();
    cache = FeatureCache.build(m, loader, Long.MAX_VALUE);
    head = ((Classifier) m).head();
    head.train();
    opt = ft.optimizer(m);
    loss = ft.loss();
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    cache.close();
  }

  @Benchmark
  public double cachedEpoch() {
    Evaluation.Accumulator acc = new Evaluation.Accumulator(10);
    int[] order = loader.order(epoch++);
    int bs = loader.options().batchSize();
    for (int b = 0; b < loader.numBatches(); b++) {
      int n = Math.min(bs, order.length - b * bs);
      int[] idx = new int[n];
      System.arraycopy(order, b * bs, idx, 0, n);
      Tensor[] xy = cache.batch(idx);
      Tensor logits = head.call(xy[0]);
      opt.zeroGrad();
      Tensor l = loss.forward(logits, xy[1]);
      double lv = l.item();
      l.backward();
      opt.step();
      acc.add(logits, xy[1], lv);
    }
    return acc.result().loss();
  }
}
