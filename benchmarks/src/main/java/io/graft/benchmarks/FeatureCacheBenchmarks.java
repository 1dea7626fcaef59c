package io.graft.benchmarks;

import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.data.Dataset;
import io.graft.finetune.data.Example;
import io.graft.finetune.data.Image;
import io.graft.finetune.recipe.FineTune;
import io.graft.finetune.recipe.Strategy;
import io.graft.finetune.train.Trainer;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import java.util.List;
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
 * Feature extraction with ResNet-18 (frozen backbone, new 10-way head) over 256 images of 3×64², batch 32, five
 * epochs per invocation: {@code cached=false} runs the backbone at every step; {@code cached=true} runs it once to
 * build the cache (included in the time) and trains the head on the cached features.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgs = {"-Xmx4g"})
@State(Scope.Thread)
public class FeatureCacheBenchmarks {
  @Param({"false", "true"})
  boolean cached;

  @Param({"2"})
  int threads;

  Trainer trainer;
  DataLoader loader;

  static final class RandomImages implements Dataset {
    private final float[][] images = new float[256][];

    RandomImages() {
      Rng r = new Rng(5);
      for (int i = 0; i < images.length; i++) {
        images[i] = Tensor.randn(r, 3 * 64 * 64).toFloatArray();
      }
    }

    @Override
    public int size() {
      return images.length;
    }

    @Override
    public Example get(int index) {
      return new Example(new Image(3, 64, 64, images[index]), index % 10);
    }

    @Override
    public List<String> classes() {
      return List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");
    }
  }

  /** The recipe's feature extraction: {@code m}'s head replaced for 10 classes, everything else frozen. */
  static FineTune featureExtraction(Module m) {
    FineTune ft = new FineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.FEATURE_EXTRACT));
    ft.prepare(m, 10);
    return ft;
  }

  /** The 256 random images in shuffled batches of 32. */
  static DataLoader loader() {
    return new DataLoader(new RandomImages(), null, DataLoader.Options.batch(32).withShuffle(true));
  }

  @Setup(Level.Trial)
  public void setup() {
    Workloads.threads(threads);
    Module m = Zoo.create("resnet18", 1000);
    FineTune ft = featureExtraction(m);
    loader = loader();
    trainer = new Trainer(m, ft.optimizer(m), null, ft.loss(), Trainer.Options.epochs(5).withKeepBest(false)
        .withFeatureCache(cached));
  }

  @Benchmark
  public double fiveEpochs() {
    return trainer.fit(loader, null).last().trainLoss();
  }
}
