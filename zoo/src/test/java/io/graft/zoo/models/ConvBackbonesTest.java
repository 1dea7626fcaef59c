package io.graft.zoo.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.layers.Identity;
import io.graft.layers.Module;
import io.graft.layers.StochasticDepth;
import io.graft.layers.block.SqueezeExcitation;
import io.graft.layers.norm.BatchNorm;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Heads, stages and torchvision's per-family defaults of EfficientNet, MobileNetV3 and RegNetY. */
class ConvBackbonesTest {
  static final Map<String, String> HEADS = Map.of("efficientnet_b0", "classifier.1", "efficientnet_b3",
      "classifier.1", "mobilenet_v3_large", "classifier.3", "mobilenet_v3_small", "classifier.3", "regnet_y_400mf",
      "fc", "regnet_y_800mf", "fc");
  static final Map<String, Long> FEATURES = Map.of("efficientnet_b0", 1280L, "efficientnet_b3", 1536L,
      "mobilenet_v3_large", 1280L, "mobilenet_v3_small", 1024L, "regnet_y_400mf", 440L, "regnet_y_800mf", 784L);

  @Test
  void headsAreFoundAndReplaced() {
    HEADS.forEach((name, path) -> {
      Classifier c = Zoo.classifier(name, 1000);
      assertEquals(path, c.headPath(), name);
      assertEquals(path, Zoo.headPath(name), name + ": Zoo.headPath agrees with the built model");
      assertEquals(FEATURES.get(name), c.numFeatures(), name);
      c.replaceHead(7);
      assertEquals(7, c.head().outFeatures());
      try (var g = GradMode.disabled()) {
        assertArrayEquals(new long[] {1, 7}, c.module().eval().call(Tensor.zeros(1, 3, 32, 32)).shape(), name);
      }
    });
  }

  @Test
  void regNetNamesItsStagesAndTakesAnyHead() {
    Classifier r = Zoo.classifier("regnet_y_400mf", 10);
    List<String> stages = r.stages().orElseThrow();
    assertEquals(List.of("stem", "trunk_output.block1", "trunk_output.block2", "trunk_output.block3",
        "trunk_output.block4"), stages);
    for (String s : stages) {
      assertTrue(!r.module().get(s).parameters().isEmpty(), s + " holds parameters");
    }
    r.module().replace("fc", new Identity());
    try (var g = GradMode.disabled()) {
      assertEquals(440, r.module().eval().call(Tensor.zeros(1, 3, 32, 32)).shape()[1], "fc replaced: features");
    }
    GraftException e = assertThrows(GraftException.class, () -> r.module().replace("stem", new Identity()));
    assertTrue(e.getMessage().contains("'stem'"), e.getMessage());
  }

  @Test
  void familiesKeepTorchvisionsBatchNormAndStochasticDepthSettings() {
    for (String name : List.of("mobilenet_v3_large", "mobilenet_v3_small")) {
      for (Module m : Zoo.create(name, 10).namedModules().values()) {
        if (m instanceof BatchNorm bn) {
          assertEquals(0.001, bn.options().eps(), name);
          assertEquals(0.01, bn.options().momentum(), name);
        }
      }
    }
    Module b0 = Zoo.create("efficientnet_b0", 10);
    List<Double> p = new ArrayList<>();
    for (Module m : b0.namedModules().values()) {
      if (m instanceof BatchNorm bn) {
        assertEquals(1e-5, bn.options().eps(), "efficientnet_b0: torchvision gives B0-B3 PyTorch's default eps");
      }
      if (m instanceof StochasticDepth sd) {
        p.add(sd.p());
      }
    }
    assertEquals(16, p.size());
    for (int k = 0; k < 16; k++) {
      assertEquals(0.2 * k / 16, p.get(k), 1e-15, "block " + k);
    }
    assertTrue(b0.get("features.1.0.block.1") instanceof SqueezeExcitation, "B0's first block has no expand conv");
    assertThrows(GraftException.class, () -> new EfficientNet(1.0, 1.0, 1.5, 0.2, 10));
    assertThrows(GraftException.class, () -> new EfficientNet(0, 1.0, 0.2, 0.2, 10));
    GraftException big = assertThrows(GraftException.class, () -> new EfficientNet(1e6, 1.0, 0.2, 0.2, 10));
    assertTrue(big.getMessage().contains("width_mult") && big.getMessage().contains("1000000.0"), big.getMessage());
    assertThrows(GraftException.class, () -> new EfficientNet(1.0, Double.NaN, 0.2, 0.2, 10));
    assertThrows(GraftException.class, () -> new EfficientNet(1.0, 3.2, 0.2, 0.2, 10));
  }

  @Test
  void identifyTellsTheFamiliesApartByTheirKeys() {
    for (String name : List.of("efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
        "mobilenet_v3_large", "mobilenet_v3_small", "regnet_y_400mf", "regnet_y_800mf")) {
      String expected = name.equals("efficientnet_b1") || name.equals("efficientnet_b2") ? null : name;
      assertEquals(expected, Zoo.identify(Zoo.create(name, 10).stateDict().keys()), name);
    }
  }

  @Test
  void badInputIsRefusedWithItsShape() {
    for (String name : HEADS.keySet()) {
      GraftException e = assertThrows(GraftException.class, () -> Zoo.create(name, 3).call(Tensor.zeros(3, 32, 32)));
      assertTrue(e.getMessage().contains("3, 32, 32"), name + ": " + e.getMessage());
    }
  }
}
