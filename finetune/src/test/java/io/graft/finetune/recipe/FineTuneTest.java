package io.graft.finetune.recipe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.layers.Module;
import io.graft.optim.Optimizer;
import io.graft.zoo.models.SmallCNN;
import io.graft.zoo.models.Zoo;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Head replacement, the parameters each strategy trains (by name), and discriminative learning rates. */
class FineTuneTest {
  static Set<String> trainable(Module m) {
    return m.namedParameters().entrySet().stream().filter(e -> e.getValue().requiresGrad()).map(Map.Entry::getKey)
        .collect(Collectors.toCollection(TreeSet::new));
  }

  @Test
  void headReplacementChangesOnlyTheHeadsKeys() {
    Module m = Zoo.create("resnet18", 1000);
    StateDict before = m.stateDict();
    Map<String, float[]> values = new java.util.HashMap<>();
    before.forEach(e -> values.put(e.getKey(), e.getValue().toFloatArray()));
    new FineTune(FineTune.Options.lr(0.01)).prepare(m, 7);
    StateDict after = m.stateDict();
    assertEquals(before.keyList(), after.keyList());
    for (String k : after.keys()) {
      if (k.startsWith("fc.")) {
        assertEquals(7, after.get(k).shape()[0], k);
      } else {
        assertArrayEquals(values.get(k), after.get(k).toFloatArray(), k);
      }
    }
  }

  @Test
  void strategiesFreezeExactlyTheRightParameters() {
    Module fe = Zoo.create("resnet18", 1000);
    new FineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.FEATURE_EXTRACT)).prepare(fe, 5);
    assertEquals(Set.of("fc.bias", "fc.weight"), trainable(fe));

    Module last2 = Zoo.create("resnet18", 1000);
    new FineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.lastK(2))).prepare(last2, 5);
    for (String k : last2.namedParameters().keySet()) {
      boolean expect = k.startsWith("layer3.") || k.startsWith("layer4.") || k.startsWith("fc.");
      assertEquals(expect, trainable(last2).contains(k), k);
    }
    assertEquals(List.of("conv1", "bn1", "layer1", "layer2", "layer3", "layer4"), Stages.of(last2));

    Module full = Zoo.create("smallcnn", 5);
    new FineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.FULL)).prepare(full, 3);
    assertEquals(full.namedParameters().keySet(), trainable(full));
    assertEquals(List.of("features.0", "features.1", "features.4", "features.5", "fc1"), Stages.of(full));

    Module vgg = Zoo.create("vgg11", 10);
    List<String> vggStages = Stages.of(vgg);
    assertEquals("classifier.3", vggStages.get(vggStages.size() - 1));
    assertFalse(vggStages.contains("classifier.6"));
    assertEquals("features.18", Stages.of(Zoo.create("mobilenet_v2", 10)).get(18));
  }

  /** A small ViT: 32² input, patch 16, 2 blocks, hidden 8, 3 classes. */
  static Module smallVit() {
    return new io.graft.zoo.models.VisionTransformer(32, 16, 2, 2, 8, 16, 0, 0, 3);
  }

  /**
   * ViT's stages own the bare parameters class_token and encoder.pos_embedding with conv_proj: last-K over every
   * stage, gradual unfreezing and layer-wise decay all reach them (before stages could join patterns with '+', they
   * stayed frozen or fell outside every stage's group).
   */
  @Test
  void vitStagesOwnTheClassTokenAndPositionalEmbedding() {
    Module m = smallVit();
    List<String> stages = Stages.of(m);
    assertEquals(List.of("conv_proj+class_token+encoder.pos_embedding", "encoder.layers.encoder_layer_0",
        "encoder.layers.encoder_layer_1", "encoder.ln"), stages);
    new FineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.lastK(4))).prepare(m, 5);
    assertEquals(m.namedParameters().keySet(), trainable(m), "last-4 of 4 stages trains everything");

    Module last1 = smallVit();
    new FineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.lastK(1))).prepare(last1, 5);
    assertEquals(Set.of("encoder.ln.weight", "encoder.ln.bias", "heads.head.weight", "heads.head.bias"),
        trainable(last1));

    Module g = smallVit();
    FineTune ft = new FineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.parse("gradual")));
    ft.prepare(g, 5);
    var l = ft.listener(g);
    for (int e = 0; e <= 4; e++) {
      l.onEpochStart(e);
    }
    assertTrue(trainable(g).containsAll(Set.of("class_token", "encoder.pos_embedding", "conv_proj.weight")),
        trainable(g).toString());

    Module d = smallVit();
    FineTune decay = new FineTune(FineTune.Options.lr(0.01).withBackboneLrScale(1).withLayerDecay(0.5));
    decay.prepare(d, 5);
    Optimizer o = decay.optimizer(d);
    var groups = o.paramGroups();
    assertEquals(1 + stages.size(), groups.size(), "head + one group per stage, nothing left over");
    var first = groups.get(groups.size() - 1);
    assertEquals(Set.of("class_token", "conv_proj.weight", "conv_proj.bias", "encoder.pos_embedding"),
        first.params().keySet());
    assertEquals(0.01 * Math.pow(0.5, 3), first.lr(), 1e-15);
  }

  @Test
  void gradualUnfreezingFollowsTheSchedule() {
    SmallCNN m = new SmallCNN(5);
    FineTune ft = new FineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.parse("gradual:2=fc1,3=features.4+"
        + "features.5")));
    ft.prepare(m, 5);
    var l = ft.listener(m);
    assertEquals(Set.of("head.weight", "head.bias"), trainable(m));
    l.onEpochStart(0);
    assertEquals(2, trainable(m).size());
    l.onEpochStart(1);
    assertTrue(trainable(m).containsAll(Set.of("fc1.weight", "fc1.bias")));
    l.onEpochStart(2);
    assertEquals(Set.of("head.weight", "head.bias", "fc1.weight", "fc1.bias", "features.4.weight",
        "features.5.weight", "features.5.bias"), trainable(m));
    assertEquals("gradual:2=fc1,3=features.4+features.5", ft.options().strategy().label());
    assertThrows(io.graft.core.GraftException.class, () -> Strategy.parse("gradual:0=fc1"));
  }

  /** Bare {@code gradual}: one more stage per epoch from the top, starting with the second epoch. */
  @Test
  void gradualWithoutAScheduleUnfreezesOneStagePerEpoch() {
    SmallCNN m = new SmallCNN(5);
    FineTune ft = new FineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.parse("gradual")));
    ft.prepare(m, 5);
    var l = ft.listener(m);
    l.onEpochStart(0);
    assertEquals(Set.of("head.weight", "head.bias"), trainable(m));
    l.onEpochStart(1);
    assertEquals(Set.of("head.weight", "head.bias", "fc1.weight", "fc1.bias"), trainable(m));
    l.onEpochStart(2);
    assertTrue(trainable(m).containsAll(Set.of("features.5.weight", "features.5.bias")));
    assertFalse(trainable(m).contains("features.4.weight"));
    for (int e = 3; e <= 8; e++) {
      l.onEpochStart(e);
    }
    assertEquals(m.namedParameters().keySet(), trainable(m), "every stage trains in the end");
    assertEquals("gradual", Strategy.parse("gradual").label());
  }

  /** One SGD-momentum step of a feature-extracting ResNet-18: optimizer state for fc only. */
  @Test
  void aFrozenBackboneHoldsOptimizerStateForTheHeadOnly() {
    Module m = Zoo.create("resnet18", 1000);
    FineTune ft = new FineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.FEATURE_EXTRACT)
        .withOptimizer("sgd", 0.9, 1e-4));
    ft.prepare(m, 5);
    Optimizer opt = ft.optimizer(m);
    step(m, ft, opt, 2, 32);
    assertEquals(2, opt.stateSize(), "fc.weight and fc.bias");
    assertEquals(512 * 5 + 5, opt.stateNumel());
    assertTrue(opt.state("fc.weight").containsKey("momentum_buffer"));
  }

  /** Gradual unfreezing adds stages to training without dropping the head's optimizer state. */
  @Test
  void gradualUnfreezingKeepsOptimizerState() {
    SmallCNN m = new SmallCNN(5);
    FineTune ft = new FineTune(FineTune.Options.lr(0.01).withOptimizer("sgd", 0.9, 0)
        .withStrategy(Strategy.parse("gradual:2=fc1")));
    ft.prepare(m, 5);
    Optimizer opt = ft.optimizer(m);
    var l = ft.listener(m);
    l.onEpochStart(0);
    step(m, ft, opt, 4, 28);
    float[] headBuffer = opt.state("head.weight").get("momentum_buffer").dup().ravel().toFloatVector();
    assertEquals(2, opt.stateSize());
    l.onEpochStart(1);
    opt.zeroGrad();
    ft.loss().forward(m.call(io.graft.core.Tensor.randn(new io.graft.core.random.Rng(9), 4, 1, 28, 28)),
        io.graft.core.Tensor.fromArray(new long[] {0, 1, 2, 3}, 4)).backward();
    float[] grad = m.head().weight().grad().toFloatArray();
    opt.step();
    assertEquals(4, opt.stateSize(), "fc1 now holds state too");
    float[] after = opt.state("head.weight").get("momentum_buffer").ravel().toFloatVector();
    for (int i = 0; i < after.length; i++) {
      assertEquals(0.9f * headBuffer[i] + grad[i], after[i], 1e-6f, "head momentum continued at " + i);
    }
  }

  private static void step(Module m, FineTune ft, Optimizer opt, int batch, int size) {
    opt.zeroGrad();
    io.graft.core.Tensor x = io.graft.core.Tensor.randn(new io.graft.core.random.Rng(7), batch, m instanceof SmallCNN
        ? 1 : 3, size, size);
    long[] y = new long[batch];
    for (int i = 0; i < batch; i++) {
      y[i] = i % 5;
    }
    ft.loss().forward(m.call(x), io.graft.core.Tensor.fromArray(y, batch)).backward();
    opt.step();
  }

  @Test
  void discriminativeLearningRates() {
    SmallCNN m = new SmallCNN(5);
    FineTune ft = new FineTune(FineTune.Options.lr(0.01).withBackboneLrScale(0.1));
    ft.prepare(m, 5);
    Optimizer opt = ft.optimizer(m);
    assertEquals(2, opt.paramGroups().size());
    assertEquals(0.01, opt.paramGroups().get(0).lr());
    assertEquals(0.001, opt.paramGroups().get(1).lr(), 1e-15);
    assertEquals(Set.of("head.weight", "head.bias"), opt.paramGroups().get(0).params().keySet());

    SmallCNN d = new SmallCNN(5);
    FineTune decay = new FineTune(FineTune.Options.lr(0.01).withBackboneLrScale(0.5).withLayerDecay(0.5));
    decay.prepare(d, 5);
    Optimizer o2 = decay.optimizer(d);
    // head, fc1 (0.005), features.5 (0.0025), features.4, features.1, features.0
    assertEquals(6, o2.paramGroups().size());
    assertEquals(0.005, o2.paramGroups().get(1).lr(), 1e-15);
    assertEquals(0.0025, o2.paramGroups().get(2).lr(), 1e-15);
    assertEquals(Set.of("fc1.weight", "fc1.bias"), o2.paramGroups().get(1).params().keySet());
  }

  /** The learning rate of every param group, in order. */
  private static double[] groupRates(FineTune.Options o) {
    SmallCNN m = new SmallCNN(5);
    FineTune ft = new FineTune(o);
    ft.prepare(m, 5);
    return ft.optimizer(m).paramGroups().stream().mapToDouble(g -> g.lr()).toArray();
  }

  @Test
  void backboneLrIsAbsoluteAndBackboneLrScaleIsAMultiplierOfTheHeadLr() {
    // one meaning per name: an absolute backbone rate and the equivalent scale give the same param groups
    double[] absolute = groupRates(FineTune.Options.lr(0.01).withBackboneLr(0.001));
    double[] scale = groupRates(FineTune.Options.lr(0.01).withBackboneLrScale(0.1));
    assertArrayEquals(new double[] {0.01, 0.001}, absolute, 1e-18);
    assertArrayEquals(absolute, scale, 1e-18);
    double[] decayAbs = groupRates(FineTune.Options.lr(0.02).withBackboneLr(0.01).withLayerDecay(0.5));
    double[] decayScale = groupRates(FineTune.Options.lr(0.02).withBackboneLrScale(0.5).withLayerDecay(0.5));
    assertArrayEquals(new double[] {0.02, 0.01, 0.005, 0.0025, 0.00125, 0.000625}, decayAbs, 1e-18);
    assertArrayEquals(decayAbs, decayScale, 1e-18);
    // the absolute rate does not depend on the head's
    assertEquals(0.003, groupRates(FineTune.Options.lr(0.5).withBackboneLr(0.003))[1]);
    // the last one given wins
    assertEquals(0.05, groupRates(FineTune.Options.lr(0.1).withBackboneLr(0.003).withBackboneLrScale(0.5))[1]);
    assertEquals(0.003, groupRates(FineTune.Options.lr(0.1).withBackboneLrScale(0.5).withBackboneLr(0.003))[1]);
  }

  @Test
  void aNegativeOrNonFiniteBackboneLrIsRefused() {
    for (FineTune.Options o : List.of(FineTune.Options.lr(0.1).withBackboneLr(-1),
        FineTune.Options.lr(0.1).withBackboneLr(Double.NaN), FineTune.Options.lr(0.1).withBackboneLrScale(-0.5),
        FineTune.Options.lr(0.1).withBackboneLr(Double.POSITIVE_INFINITY))) {
      GraftException e = assertThrows(GraftException.class, () -> new FineTune(o));
      assertTrue(e.getMessage().contains("backbone"), e.getMessage());
    }
  }
}
