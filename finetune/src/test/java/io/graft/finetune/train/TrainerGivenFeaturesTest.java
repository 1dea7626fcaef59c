package io.graft.finetune.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.recipe.Strategy;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Trainer#withFeatures}: features computed elsewhere (filled into {@link FeatureCache#empty} with
 * {@link FeatureCache#put}) train the same head as the cache the Trainer builds, and ones that cannot stand for the
 * data or the model are refused with the reason.
 */
class TrainerGivenFeaturesTest {
  @BeforeAll
  static void data() throws Exception {
    TrainerTest.data();
  }

  /** A copy of {@code c} made through the public fill API, as graft-spark's shards reader makes one. */
  static FeatureCache copy(FeatureCache c) {
    FeatureCache out = FeatureCache.empty(c.size(), c.features(), 1L << 20);
    for (int i = 0; i < c.size(); i++) {
      var xy = c.batch(new int[] {i});
      out.put(i, xy[0].toFloatArray(), 0, xy[1].toLongArray()[0]);
    }
    return out;
  }

  @Test
  void givenFeaturesTrainTheSameHeadAsTheBuiltCache() {
    float[][] heads = new float[2][];
    for (int mode = 0; mode < 2; mode++) {
      TrainerTest.Setup s = TrainerTest.setup(Strategy.FEATURE_EXTRACT);
      try (DataLoader tr = TrainerTest.loader(TrainerTest.train, true);
           DataLoader va = TrainerTest.loader(TrainerTest.val, false);
           FeatureCache builtTr = FeatureCache.build(s.model(), tr, 1L << 20);
           FeatureCache builtVa = FeatureCache.build(s.model(), va, 1L << 20);
           FeatureCache givenTr = copy(builtTr);
           FeatureCache givenVa = copy(builtVa)) {
        Trainer t = new Trainer(s.model(), s.opt(), null, s.ft().loss(), Trainer.Options.epochs(3).withKeepBest(false));
        if (mode == 1) {
          t.withFeatures(givenTr, givenVa);
        }
        assertTrue(t.fit(tr, va).last().cached());
      }
      heads[mode] = s.model().head().weight().toFloatArray();
    }
    assertArrayEquals(heads[0], heads[1]);
  }

  @Test
  void featuresThatDoNotFitAreRefused() {
    TrainerTest.Setup s = TrainerTest.setup(Strategy.FEATURE_EXTRACT);
    try (DataLoader tr = TrainerTest.loader(TrainerTest.train, true);
         FeatureCache wrong = FeatureCache.empty(TrainerTest.train.size() - 1, 64, 1L << 20)) {
      Trainer t = new Trainer(s.model(), s.opt(), null, s.ft().loss(), Trainer.Options.epochs(1))
          .withFeatures(wrong, null);
      GraftException e = assertThrows(GraftException.class, () -> t.fit(tr, null));
      assertTrue(e.getMessage().contains("hold " + (TrainerTest.train.size() - 1) + " examples"), e.getMessage());
    }
    TrainerTest.Setup full = TrainerTest.setup(Strategy.FULL);
    try (DataLoader tr = TrainerTest.loader(TrainerTest.train, true);
         FeatureCache any = FeatureCache.empty(TrainerTest.train.size(), 64, 1L << 20)) {
      Trainer t = new Trainer(full.model(), full.opt(), null, full.ft().loss(), Trainer.Options.epochs(1))
          .withFeatures(any, null);
      GraftException e = assertThrows(GraftException.class, () -> t.fit(tr, null));
      assertTrue(e.getMessage().contains("only the head can train on them") && e.getMessage().contains("trainable"),
          e.getMessage());
    }
    assertThrows(GraftException.class, () -> FeatureCache.empty(2, 4, 1L << 20).put(2, new float[4], 0, 0));
  }
}
