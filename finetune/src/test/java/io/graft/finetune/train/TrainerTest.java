package io.graft.finetune.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.data.Dataset;
import io.graft.finetune.data.IdxDataset;
import io.graft.finetune.recipe.FineTune;
import io.graft.finetune.recipe.Strategy;
import io.graft.finetune.transforms.Normalize;
import io.graft.finetune.transforms.Transform;
import io.graft.layers.loss.CrossEntropyLoss;
import io.graft.optim.Optimizer;
import io.graft.optim.scheduler.CosineAnnealingLR;
import io.graft.optim.scheduler.Scheduler;
import io.graft.zoo.models.ConvNeXt;
import io.graft.zoo.models.SmallCNN;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training loop: frozen weights, feature cache equivalence, exact resume, early stopping and its outputs. */
class TrainerTest {
  static final Transform NORM = new Normalize(new float[] {0.286f}, new float[] {0.353f});
  @TempDir
  static Path tmp;
  static Dataset train;
  static Dataset val;

  @BeforeAll
  static void data() throws Exception {
    Path assets = io.graft.finetune.recipe.Demo.assets();
    Dataset all = new IdxDataset(assets.resolve("train-images-idx3-ubyte.gz"),
        assets.resolve("train-labels-idx1-ubyte.gz"), IdxDataset.FASHION_CLASSES).selectClasses(5, 6, 7, 8, 9);
    List<Dataset> parts = all.firstPerClass(40).split(0.25, new io.graft.core.random.Rng(1));
    train = parts.get(0);
    val = parts.get(1);
  }

  static DataLoader loader(Dataset d, boolean shuffle) {
    return new DataLoader(d, NORM, DataLoader.Options.batch(16).withShuffle(shuffle).withSeed(3));
  }

  record Setup(SmallCNN model, FineTune ft, Optimizer opt) {}

  static Setup setup(Strategy s) {
    Init.manualSeed(5);
    SmallCNN m = new SmallCNN(5);
    FineTune ft = new FineTune(FineTune.Options.lr(0.05).withStrategy(s).withBackboneLrScale(0.1).withSeed(9));
    ft.prepare(m, 5);
    return new Setup(m, ft, ft.optimizer(m));
  }

  static Map<String, float[]> snapshot(SmallCNN m) {
    Map<String, float[]> out = new HashMap<>();
    m.stateDict().forEach(e -> out.put(e.getKey(), e.getValue().toFloatArray()));
    return out;
  }

  @Test
  void frozenParametersAreBitIdenticalAfterTraining() {
    Setup s = setup(Strategy.FEATURE_EXTRACT);
    Map<String, float[]> before = snapshot(s.model);
    try (DataLoader tr = loader(train, true); DataLoader va = loader(val, false)) {
      new Trainer(s.model, s.opt, null, s.ft.loss(), Trainer.Options.epochs(3).withFeatureCache(false)).fit(tr, va);
    }
    Map<String, float[]> after = snapshot(s.model);
    for (String k : before.keySet()) {
      if (k.startsWith("head.")) {
        assertFalse(java.util.Arrays.equals(before.get(k), after.get(k)), k + " trained");
      } else {
        assertArrayEquals(before.get(k), after.get(k), k + " frozen (weights and BatchNorm statistics)");
      }
    }
    assertEquals(2, s.opt.stateSize(), "optimizer state only for the head");
  }

  @Test
  void featureCacheTrainsTheSameHeadAsTheFullModel() {
    // 0: uncached, 1: cached in memory, 2: cached on disk; with drop_last, each shuffled epoch leaves out other
    // examples (150 % 16 = 6), all of which the cache must hold
    for (boolean dropLast : new boolean[] {false, true}) {
      float[][] heads = new float[3][];
      History[] h = new History[3];
      for (int mode = 0; mode < 3; mode++) {
        Setup s = setup(Strategy.FEATURE_EXTRACT);
        try (DataLoader tr = new DataLoader(train, NORM, DataLoader.Options.batch(16).withShuffle(true).withSeed(3)
            .withDropLast(dropLast)); DataLoader va = new DataLoader(val, NORM, DataLoader.Options.batch(16)
            .withDropLast(dropLast))) {
          h[mode] = new Trainer(s.model, s.opt, null, s.ft.loss(), Trainer.Options.epochs(4).withKeepBest(false)
              .withFeatureCache(mode > 0).withCacheMemoryBytes(mode == 2 ? 0 : 1L << 30)).fit(tr, va);
        }
        heads[mode] = s.model.head().weight().toFloatArray();
        assertEquals(mode > 0, h[mode].last().cached());
      }
      assertArrayEquals(heads[0], heads[1], 1e-5f, "drop_last " + dropLast);
      assertArrayEquals(heads[1], heads[2], "memory and disk caches hold the same features");
      assertEquals(h[0].last().valAccuracy(), h[1].last().valAccuracy(), 1e-9);
    }
    // a random transform makes the cache ineligible
    Setup s = setup(Strategy.FEATURE_EXTRACT);
    try (DataLoader tr = new DataLoader(train, new io.graft.finetune.transforms.RandomHorizontalFlip(),
        DataLoader.Options.batch(16))) {
      assertTrue(FeatureCache.ineligibility(s.model, tr).contains("random"));
    }
    Setup full = setup(Strategy.FULL);
    try (DataLoader tr = loader(train, true)) {
      assertTrue(FeatureCache.ineligibility(full.model, tr).contains("trainable"));
    }
  }

  @Test
  void stochasticDepthBeforeTheHeadMakesTheCacheIneligible() {
    // a frozen ConvNeXt still drops residual branches in training mode, so features computed once in eval mode would
    // train another model than the uncached run (and PyTorch's); without stochastic depth the cache is exact again
    for (double p : new double[] {0.1, 0.0}) {
      Init.manualSeed(5);
      ConvNeXt m = new ConvNeXt(new int[] {1, 1, 1, 1}, p, 1e-6, 10);
      new FineTune(FineTune.Options.lr(0.05).withStrategy(Strategy.FEATURE_EXTRACT)).prepare(m, 5);
      try (DataLoader tr = loader(train, true)) {
        String why = FeatureCache.ineligibility(m, tr);
        if (p > 0) {
          // block k of 4 drops with p * k / 3: the first block's is 0, the second's the first random one
          assertEquals("stochastic depth 'features.3.0.stochastic_depth' before the head is random in training mode",
              why);
        } else {
          assertNull(why);
        }
      }
    }
  }

  @Test
  void resumeFromACheckpointEqualsAnUninterruptedRun() {
    Path ckpt = tmp.resolve("run.ckpt");
    Setup straight = setup(Strategy.FULL);
    Scheduler sched = new CosineAnnealingLR(straight.opt, 4);
    History hs;
    try (DataLoader tr = loader(train, true); DataLoader va = loader(val, false)) {
      hs = new Trainer(straight.model, straight.opt, sched, straight.ft.loss(), Trainer.Options.epochs(4)
          .withKeepBest(false)).fit(tr, va);
    }
    Setup first = setup(Strategy.FULL);
    try (DataLoader tr = loader(train, true); DataLoader va = loader(val, false)) {
      new Trainer(first.model, first.opt, new CosineAnnealingLR(first.opt, 4), first.ft.loss(),
          Trainer.Options.epochs(2).withKeepBest(false).withCheckpoint(ckpt, true)).fit(tr, va);
    }
    // a new process: fresh objects, resumed from the checkpoint, asked for 4 epochs in all
    Setup resumed = setup(Strategy.FULL);
    History h;
    try (DataLoader tr = loader(train, true); DataLoader va = loader(val, false)) {
      h = new Trainer(resumed.model, resumed.opt, new CosineAnnealingLR(resumed.opt, 4), resumed.ft.loss(),
          Trainer.Options.epochs(4).withKeepBest(false).withCheckpoint(ckpt, true)).fit(tr, va);
    }
    assertEquals(4, h.epochs().size());
    // the final weights (keep-best off) and every epoch's figures, the two resumed epochs included
    for (int e = 0; e < 4; e++) {
      assertEquals(hs.epochs().get(e).trainLoss(), h.epochs().get(e).trainLoss(), 0.0, "train loss, epoch " + e);
      assertEquals(hs.epochs().get(e).valLoss(), h.epochs().get(e).valLoss(), 0.0, "val loss, epoch " + e);
    }
    for (Map.Entry<String, Parameter> e : straight.model.namedParameters().entrySet()) {
      assertArrayEquals(e.getValue().toFloatArray(), resumed.model.namedParameters().get(e.getKey()).toFloatArray(),
          e.getKey());
    }
    assertArrayEquals(snapshot(straight.model).get("features.1.running_mean"),
        snapshot(resumed.model).get("features.1.running_mean"));
  }

  /** A gradual-unfreezing run resumed at epoch 3 has the stages of epochs 1 and 2 open again, as if never stopped. */
  @Test
  void gradualUnfreezingResumesWithTheSameStagesOpen() {
    Path ckpt = tmp.resolve("gradual.ckpt");
    Strategy gradual = Strategy.parse("gradual");
    Setup straight = setup(gradual);
    try (DataLoader tr = loader(train, true)) {
      new Trainer(straight.model, straight.opt, null, straight.ft.loss(), Trainer.Options.epochs(4)
          .withKeepBest(false)).addListener(straight.ft.listener(straight.model)).fit(tr, null);
    }
    Setup first = setup(gradual);
    try (DataLoader tr = loader(train, true)) {
      new Trainer(first.model, first.opt, null, first.ft.loss(), Trainer.Options.epochs(3).withKeepBest(false)
          .withCheckpoint(ckpt, true)).addListener(first.ft.listener(first.model)).fit(tr, null);
    }
    Setup resumed = setup(gradual);
    try (DataLoader tr = loader(train, true)) {
      new Trainer(resumed.model, resumed.opt, null, resumed.ft.loss(), Trainer.Options.epochs(4).withKeepBest(false)
          .withCheckpoint(ckpt, true)).addListener(resumed.ft.listener(resumed.model)).fit(tr, null);
    }
    for (Map.Entry<String, Parameter> e : straight.model.namedParameters().entrySet()) {
      Parameter r = resumed.model.namedParameters().get(e.getKey());
      assertEquals(e.getValue().requiresGrad(), r.requiresGrad(), "trainable: " + e.getKey());
      assertArrayEquals(e.getValue().toFloatArray(), r.toFloatArray(), e.getKey());
    }
    assertTrue(straight.model.namedParameters().get("fc1.weight").requiresGrad(), "fc1 opened at epoch 1");
  }

  @Test
  void earlyStoppingKeepsTheBestAndWritesLogAndPlot() throws Exception {
    Setup s = setup(Strategy.FULL);
    Path log = tmp.resolve("metrics.jsonl");
    Path png = tmp.resolve("curve.png");
    History h;
    List<float[]> headAtEpochEnd = new java.util.ArrayList<>();
    try (DataLoader tr = loader(train, true); DataLoader va = loader(val, false)) {
      h = new Trainer(s.model, s.opt, null, new CrossEntropyLoss(), Trainer.Options.epochs(30)
          .withMonitor(Trainer.Monitor.VAL_LOSS).withPatience(2).withMetricsLog(log).withPlot(png))
          .addListener(new TrainListener() {
            @Override
            public void onEpochEnd(EpochStats e) {
              headAtEpochEnd.add(s.model.head().weight().toFloatArray());
            }
          }).fit(tr, va);
    }
    assertTrue(h.stoppedEarly() || h.epochs().size() == 30);
    assertArrayEquals(headAtEpochEnd.get(h.bestEpoch()), s.model.head().weight().toFloatArray(),
        "keep-best restores the best epoch's weights");
    assertTrue(h.bestEpoch() < h.epochs().size() - 1 || !h.stoppedEarly());
    List<String> lines = Files.readAllLines(log);
    assertEquals(h.epochs().size(), lines.size());
    assertTrue(lines.get(0).contains("\"val_accuracy\""));
    // every epoch logs validation accuracy per class and the confusion matrix, and a resume reads them back
    var first = new com.fasterxml.jackson.databind.ObjectMapper().readTree(lines.get(0));
    assertEquals(5, first.get("val_per_class_accuracy").size());
    long counted = 0;
    for (var row : first.get("val_confusion")) {
      for (var v : row) {
        counted += v.asLong();
      }
    }
    assertEquals(val.size(), counted);
    EpochStats e0 = h.epochs().get(0);
    assertEquals(5, e0.valConfusion().length);
    List<EpochStats> back = MetricsLog.fromJson(MetricsLog.toJson(h.epochs()), 1, "history");
    assertArrayEquals(e0.valPerClassAccuracy(), back.get(0).valPerClassAccuracy(), 1e-12);
    assertArrayEquals(e0.valConfusion()[2], back.get(0).valConfusion()[2]);
    byte[] head = Arrays8.first(png);
    assertEquals((byte) 0x89, head[0]);
    assertEquals('P', head[1]);
    double bestLoss = h.epochs().stream().mapToDouble(EpochStats::valLoss).min().orElseThrow();
    assertEquals(bestLoss, h.bestMetric(), 0);
  }

  @Test
  void nonFiniteLossStopsTrainingWithTheStep() {
    Setup s = setup(Strategy.FULL);
    try (DataLoader tr = loader(train, true)) {
      GraftException e = assertThrows(GraftException.class, () -> new Trainer(s.model, s.opt, null,
          (in, target) -> in.sum().mul(Double.NaN), Trainer.Options.epochs(1)).fit(tr, null));
      assertTrue(e.getMessage().contains("epoch 1, batch 1"), e.getMessage());
    }
    // an infinite loss in the third batch of the second epoch, after a checkpoint: named, weights as they were
    Path ckpt = tmp.resolve("nonfinite.ckpt");
    Setup c = setup(Strategy.FULL);
    int[] calls = {0};
    io.graft.layers.loss.Loss late = (in, target) -> {
      Tensor l = c.ft.loss().forward(in, target);
      return ++calls[0] == 10 + 3 ? l.mul(Double.POSITIVE_INFINITY) : l;  // 10 batches per epoch (150 / 16)
    };
    try (DataLoader tr = loader(train, true)) {
      Trainer t = new Trainer(c.model, c.opt, null, late, Trainer.Options.epochs(3).withKeepBest(false)
          .withCheckpoint(ckpt, false));
      float[][] atFailure = new float[1][];
      t.addListener(new TrainListener() {
        @Override
        public void onBatchEnd(int epoch, int batch, int batches, double loss) {
          atFailure[0] = c.model.head().weight().toFloatArray();
        }
      });
      GraftException e = assertThrows(GraftException.class, () -> t.fit(tr, null));
      assertTrue(e.getMessage().contains("non-finite loss Infinity at epoch 2, batch 3"), e.getMessage());
      assertTrue(e.getMessage().contains("last good checkpoint: " + ckpt + " (end of epoch 1)"), e.getMessage());
      assertArrayEquals(atFailure[0], c.model.head().weight().toFloatArray(), "the failing step changed nothing");
      Setup fresh = setup(Strategy.FULL);
      assertEquals(0, Checkpoint.load(ckpt, fresh.model, fresh.opt, null, null).epoch());
    }
  }

  @Test
  void nonFiniteGradientNamesTheParameterOrIsSkipped() {
    Setup s = setup(Strategy.FULL);
    float[] before = s.model.head().weight().toFloatArray();
    // a finite loss (sqrt(0) = 0) whose gradient is NaN (d sqrt/du at 0 is inf, times d(0·x)/dx = 0)
    io.graft.layers.loss.Loss poisoned = (in, target) -> in.mul(0.0).sqrt().sum();
    try (DataLoader tr = loader(train, true)) {
      GraftException e = assertThrows(GraftException.class, () -> new Trainer(s.model, s.opt, null, poisoned,
          Trainer.Options.epochs(1)).fit(tr, null));
      // the first parameter in the model's order whose gradient is NaN
      assertTrue(e.getMessage().contains("non-finite gradient for parameter 'features.0.weight' at epoch 1, batch 1")
          && e.getMessage().endsWith("weights were not updated"), e.getMessage());
      assertArrayEquals(before, s.model.head().weight().toFloatArray(), "weights untouched");
      Trainer skipping = new Trainer(s.model, s.opt, null, poisoned, Trainer.Options.epochs(1).withSkipNonFinite(true));
      skipping.fit(tr, null);
      assertEquals(tr.numBatches(), skipping.skippedSteps());
      assertArrayEquals(before, s.model.head().weight().toFloatArray(), "skipped steps change nothing");
    }
  }

  static final class Arrays8 {
    static byte[] first(Path p) throws java.io.IOException {
      try (var in = Files.newInputStream(p)) {
        return in.readNBytes(8);
      }
    }
  }
}
