package io.graft.finetune.reliability;

import io.graft.core.StateDict;
import io.graft.core.init.Init;
import io.graft.core.io.Safetensors;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.data.Dataset;
import io.graft.finetune.data.IdxDataset;
import io.graft.finetune.recipe.FineTune;
import io.graft.optim.Optimizer;
import io.graft.finetune.recipe.Strategy;
import io.graft.finetune.train.Trainer;
import io.graft.finetune.transforms.Normalize;
import io.graft.zoo.models.SmallCNN;
import java.nio.file.Path;
import java.util.Map;

/**
 * The training process that {@link CrashSafeCheckpointTest} kills with SIGKILL: smallcnn on 16 Fashion-MNIST images
 * (one batch per epoch), a checkpoint after every epoch, resuming from the checkpoint when it exists.
 * {@code args: checkpoint epochs [finalWeights]}.
 */
public final class CheckpointChild {
  private CheckpointChild() {}

  static Dataset data() {
    Path dir = io.graft.finetune.recipe.Demo.assets();
    return new IdxDataset(dir.resolve("train-images-idx3-ubyte.gz"), dir.resolve("train-labels-idx1-ubyte.gz"),
        IdxDataset.FASHION_CLASSES).selectClasses(5, 6, 7, 8, 9).firstPerClass(4).subset(new int[] {0, 1, 2, 3, 4, 5,
        6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
  }

  /** The child's model and its optimizer, as built before training or loading a checkpoint. */
  record Run(SmallCNN model, FineTune ft, Optimizer optimizer) {}

  static Run fresh() {
    Init.manualSeed(11);
    SmallCNN m = new SmallCNN(5);
    FineTune ft = new FineTune(FineTune.Options.lr(0.05).withStrategy(Strategy.FULL).withSeed(3));
    ft.prepare(m, 5);
    return new Run(m, ft, ft.optimizer(m));
  }

  /** Trains (resuming from {@code checkpoint} if present) and returns the final state. */
  static StateDict train(Path checkpoint, int epochs) {
    Run r = fresh();
    SmallCNN m = r.model();
    FineTune ft = r.ft();
    try (DataLoader tr = new DataLoader(data(), new Normalize(new float[] {0.286f}, new float[] {0.353f}),
        DataLoader.Options.batch(16).withShuffle(true).withSeed(5).withWorkers(0))) {
      Trainer.Options o = Trainer.Options.epochs(epochs).withKeepBest(false).withFeatureCache(false);
      if (checkpoint != null) {
        o = o.withCheckpoint(checkpoint, true);
      }
      new Trainer(m, r.optimizer(), null, ft.loss(), o).fit(tr, null);
    }
    return m.stateDict();
  }

  public static void main(String[] args) {
    Path ckpt = Path.of(args[0]);
    int epochs = Integer.parseInt(args[1]);
    StateDict sd = train(ckpt, epochs);
    if (args.length > 2) {
      Safetensors.write(Path.of(args[2]), sd, Map.of());
    }
  }
}
