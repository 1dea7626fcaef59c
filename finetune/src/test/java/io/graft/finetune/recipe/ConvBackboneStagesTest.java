package io.graft.finetune.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.graft.core.Parameter;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The stages of EfficientNet, MobileNetV3 and RegNetY, as {@code lastK}, gradual unfreezing and layer decay see them,
 * and {@code lastK(2)} freezing exactly the stages before the last two.
 */
class ConvBackboneStagesTest {
  static List<String> numbered(String prefix, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(prefix + i);
    }
    return out;
  }

  @Test
  void eachFamilyHasItsDocumentedStages() {
    assertEquals(numbered("features.", 9), Stages.of(Zoo.create("efficientnet_b0", 10)));
    assertEquals(numbered("features.", 9), Stages.of(Zoo.create("efficientnet_b3", 10)));
    List<String> large = numbered("features.", 17);
    large.add("classifier.0");
    assertEquals(large, Stages.of(Zoo.create("mobilenet_v3_large", 10)));
    List<String> small = numbered("features.", 13);
    small.add("classifier.0");
    assertEquals(small, Stages.of(Zoo.create("mobilenet_v3_small", 10)));
    assertEquals(List.of("stem", "trunk_output.block1", "trunk_output.block2", "trunk_output.block3",
        "trunk_output.block4"), Stages.of(Zoo.create("regnet_y_800mf", 10)));
  }

  @Test
  void lastKTrainsTheLastStagesAndTheHead() {
    Module r = Zoo.create("regnet_y_400mf", 1000);
    new FineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.lastK(2))).prepare(r, 5);
    for (Map.Entry<String, Parameter> e : r.namedParameters().entrySet()) {
      String k = e.getKey();
      boolean expect = k.startsWith("trunk_output.block3.") || k.startsWith("trunk_output.block4.")
          || k.startsWith("fc.");
      assertEquals(expect, e.getValue().requiresGrad(), k);
    }
    Module b0 = Zoo.create("efficientnet_b0", 1000);
    new FineTune(FineTune.Options.lr(0.01).withStrategy(Strategy.lastK(1))).prepare(b0, 5);
    for (Map.Entry<String, Parameter> e : b0.namedParameters().entrySet()) {
      String k = e.getKey();
      assertEquals(k.startsWith("features.8.") || k.startsWith("classifier.1."), e.getValue().requiresGrad(), k);
    }
  }
}
