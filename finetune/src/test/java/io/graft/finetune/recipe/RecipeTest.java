package io.graft.finetune.recipe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.random.Rng;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.data.Dataset;
import io.graft.finetune.data.IdxDataset;
import io.graft.finetune.train.Trainer;
import io.graft.finetune.transforms.Normalize;
import io.graft.layers.Module;
import io.graft.optim.Optimizer;
import io.graft.optim.scheduler.CosineAnnealingLR;
import io.graft.zoo.weights.Weights;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The recipe object: the same run as the pieces assembled by hand, with every part of it taking effect. */
class RecipeTest {
  static final Normalize NORM = new Normalize(new float[] {0.286f}, new float[] {0.353f});
  static Path stage1;
  static Dataset train;
  static Dataset val;

  @BeforeAll
  static void data() {
    Path assets = Demo.assets();
    stage1 = assets.resolve("smallcnn_fmnist_0-4.pth");
    Dataset all = new IdxDataset(assets.resolve("train-images-idx3-ubyte.gz"),
        assets.resolve("train-labels-idx1-ubyte.gz"), IdxDataset.FASHION_CLASSES).selectClasses(5, 6, 7, 8, 9);
    List<Dataset> parts = all.firstPerClass(30).split(0.2, new Rng(1));
    train = parts.get(0);
    val = parts.get(1);
  }

  static DataLoader loader(Dataset d, boolean shuffle) {
    return new DataLoader(d, NORM, DataLoader.Options.batch(16).withShuffle(shuffle).withSeed(4));
  }

  @Test
  void aRecipeRunsTheSameStepsAsTheHandAssembledPieces() {
    FineTune.Options ft = FineTune.Options.lr(0.05).withStrategy(Strategy.FEATURE_EXTRACT).withSeed(7);
    Trainer.Options training = Trainer.Options.epochs(3).withKeepBest(false);
    Recipe.Result r;
    try (DataLoader tr = loader(train, true); DataLoader va = loader(val, false)) {
      r = Recipe.zoo("smallcnn", stage1, 5).withFineTune(ft).withScheduler(o -> new CosineAnnealingLR(o, 3))
          .withTraining(training).run(tr, va);
    }
    // by hand: seed, load, new head, optimizer, schedule, trainer with the unfreezing listener
    Init.manualSeed(7);
    Module m = Weights.loadZoo("smallcnn", stage1);
    FineTune f = new FineTune(ft);
    f.prepare(m, 5);
    Optimizer opt = f.optimizer(m);
    try (DataLoader tr = loader(train, true); DataLoader va = loader(val, false)) {
      new Trainer(m, opt, new CosineAnnealingLR(opt, 3), f.loss(), training).addListener(f.listener(m)).fit(tr, va);
    }
    assertEquals(3, r.history().epochs().size());
    StateDict got = r.model().stateDict();
    StateDict want = m.stateDict();
    for (Map.Entry<String, Tensor> e : want) {
      assertArrayEquals(e.getValue().toDoubleArray(), got.get(e.getKey()).toDoubleArray(), e.getKey());
    }
    // the parts took effect: a 5-way head, a frozen backbone exactly as loaded, the schedule ran to its end
    assertArrayEquals(new long[] {5, 64}, got.get("head.weight").shape());
    StateDict loaded = Weights.read(stage1);
    assertArrayEquals(loaded.get("features.0.weight").toFloatArray(), got.get("features.0.weight").toFloatArray());
    assertArrayEquals(loaded.get("features.1.running_mean").toFloatArray(),
        got.get("features.1.running_mean").toFloatArray());
    assertEquals(0.0, r.optimizer().paramGroups().get(0).lr(), 1e-12, "cosine over 3 epochs ends at eta_min 0");
    assertTrue(r.history().last().cached(), "feature extraction trained on cached features");
  }

  @Test
  void badRecipesFailBeforeTraining() {
    GraftException e = assertThrows(GraftException.class, () -> Recipe.zoo("resnet99", null, 5));
    assertTrue(e.getMessage().contains("resnet99"), e.getMessage());
    assertThrows(GraftException.class, () -> Recipe.zoo("smallcnn", null, 0));
    Recipe scratch = Recipe.zoo("smallcnn", null, 5);
    assertEquals(Strategy.SCRATCH, scratch.fineTune().strategy());
    try (DataLoader tr = loader(train, true)) {
      // scratch means fresh weights; any other strategy needs trained ones
      GraftException w = assertThrows(GraftException.class, () -> Recipe.zoo("smallcnn", stage1, 5)
          .withFineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.SCRATCH)).run(tr, null));
      assertTrue(w.getMessage().contains("scratch"), w.getMessage());
      GraftException f = assertThrows(GraftException.class, () -> scratch
          .withFineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.FULL)).run(tr, null));
      assertTrue(f.getMessage().contains("weights"), f.getMessage());
    }
    assertEquals("smallcnn + " + stage1, Recipe.zoo("smallcnn", stage1, 5).source());
  }
}
