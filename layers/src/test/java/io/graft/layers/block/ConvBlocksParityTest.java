package io.graft.layers.block;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.io.Safetensors;
import io.graft.layers.Module;
import io.graft.layers.activation.Hardsigmoid;
import io.graft.layers.activation.Hardswish;
import io.graft.layers.activation.ReLU;
import io.graft.layers.activation.SiLU;
import io.graft.layers.activation.Sigmoid;
import io.graft.testing.Fixtures;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Hardswish, Hardsigmoid and SqueezeExcitation (with EfficientNet's, MobileNetV3's and RegNetY's activations) against
 * torch.nn / torchvision.ops ({@code tools/fixtures/conv_blocks.py}): output, input and parameter gradients.
 */
class ConvBlocksParityTest {
  static final double TOL = 1e-5;
  static final Safetensors.File FIX = Fixtures.load("fixtures/layers/conv_blocks.safetensors");
  static final Map<String, Supplier<Module>> MODULES = new LinkedHashMap<>();

  static {
    MODULES.put("hardswish", Hardswish::new);
    MODULES.put("hardsigmoid", Hardsigmoid::new);
    MODULES.put("se_efficientnet", () -> new SqueezeExcitation(16, 4, new SiLU(), new Sigmoid(), Init.defaultRng()));
    MODULES.put("se_mobilenet_v3", () -> new SqueezeExcitation(24, 8, new ReLU(), new Hardsigmoid(),
        Init.defaultRng()));
    MODULES.put("se_regnet", () -> new SqueezeExcitation(12, 3));
  }

  static List<String> cases() {
    return Arrays.asList(FIX.metadata().get("cases").split(","));
  }

  @Test
  void everyFixtureCaseHasAConstructorAndViceVersa() {
    TreeSet<String> fromFixture = new TreeSet<>();
    cases().forEach(c -> fromFixture.add(c.substring(0, c.indexOf('@'))));
    assertEquals(new TreeSet<>(MODULES.keySet()), fromFixture);
  }

  @TestFactory
  Stream<DynamicTest> matchesPyTorch() {
    return cases().stream().map(c -> DynamicTest.dynamicTest(c, () -> check(c)));
  }

  static void check(String c) {
    Module m = MODULES.get(c.substring(0, c.indexOf('@'))).get();
    StateDict sd = new StateDict();
    Map<String, Tensor> pgrad = new LinkedHashMap<>();
    for (Safetensors.Entry e : FIX.entries()) {
      String k = e.name();
      if (k.startsWith(c + "/param/")) {
        sd.put(k.substring((c + "/param/").length()), FIX.tensor(k));
      } else if (k.startsWith(c + "/pgrad/")) {
        pgrad.put(k.substring((c + "/pgrad/").length()), FIX.tensor(k));
      }
    }
    m.loadStateDict(sd, true);
    m.train(c.endsWith("@train"));
    Tensor x = FIX.tensor(c + "/x").requiresGrad(true);
    Tensor out = m.call(x);
    assertClose(out, FIX.tensor(c + "/out"), TOL, TOL, c + " output");
    out.backward(FIX.tensor(c + "/gout"));
    assertClose(x.grad(), FIX.tensor(c + "/gx"), TOL, TOL, c + " input gradient");
    Map<String, Parameter> params = m.namedParameters();
    assertEquals(pgrad.keySet(), params.keySet(), c + " parameters");
    for (Map.Entry<String, Tensor> e : pgrad.entrySet()) {
      Tensor g = params.get(e.getKey()).grad();
      assertNotNull(g, c + ": no gradient for " + e.getKey());
      assertClose(g, e.getValue(), TOL, TOL, c + " gradient of " + e.getKey());
    }
  }

  @Test
  void squeezeExcitationHasTorchvisionsChildrenAndKeys() {
    SqueezeExcitation se = new SqueezeExcitation(16, 4);
    assertEquals(List.of("avgpool", "fc1", "fc2", "activation", "scale_activation"),
        List.copyOf(se.namedChildren().keySet()));
    assertEquals(List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"), se.stateDict().keyList());
  }

  @Test
  void squeezeExcitationRefusesBadArguments() {
    GraftException e = assertThrows(GraftException.class, () -> new SqueezeExcitation(16, 0));
    assertTrue(e.getMessage().contains("squeeze_channels"), e.getMessage());
    assertThrows(GraftException.class, () -> new SqueezeExcitation(4, 2, null, new Sigmoid(), Init.defaultRng()));
    GraftException rank = assertThrows(GraftException.class, () -> new SqueezeExcitation(4, 2).call(Tensor.zeros(4, 4)));
    assertNotNull(rank.getMessage());
  }
}
