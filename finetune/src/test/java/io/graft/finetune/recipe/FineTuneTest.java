package io.graft.finetune.recipe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

  @Test
  void gradualUnfreezingFollowsTheSchedule() {
    SmallCNN m = new SmallCNN(5);
    FineTune ft = new FineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.parse("gradual:1=fc1,2=features.4+"
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
  }

  @Test
  void discriminativeLearningRates() {
    SmallCNN m = new SmallCNN(5);
    FineTune ft = new FineTune(FineTune.Options.lr(0.01).withBackboneLr(0.1));
    ft.prepare(m, 5);
    Optimizer opt = ft.optimizer(m);
    assertEquals(2, opt.paramGroups().size());
    assertEquals(0.01, opt.paramGroups().get(0).lr());
    assertEquals(0.001, opt.paramGroups().get(1).lr(), 1e-15);
    assertEquals(Set.of("head.weight", "head.bias"), opt.paramGroups().get(0).params().keySet());

    SmallCNN d = new SmallCNN(5);
    FineTune decay = new FineTune(FineTune.Options.lr(0.01).withBackboneLr(0.5).withLayerDecay(0.5));
    decay.prepare(d, 5);
    Optimizer o2 = decay.optimizer(d);
    // head, fc1 (0.005), features.5 (0.0025), features.4, features.1, features.0
    assertEquals(6, o2.paramGroups().size());
    assertEquals(0.005, o2.paramGroups().get(1).lr(), 1e-15);
    assertEquals(0.0025, o2.paramGroups().get(2).lr(), 1e-15);
    assertEquals(Set.of("fc1.weight", "fc1.bias"), o2.paramGroups().get(1).params().keySet());
  }
}
