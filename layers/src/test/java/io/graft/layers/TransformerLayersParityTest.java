package io.graft.layers;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.layers.activation.GELU;
import io.graft.layers.norm.LayerNorm;
import io.graft.layers.norm.LayerNorm2d;
import io.graft.testing.Fixtures;
import java.util.ArrayList;
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
 * LayerNorm, LayerNorm2d, Permute and MultiheadAttention against torch.nn / torchvision ({@code
 * tools/fixtures/transformer_ops.py}): PyTorch's state dict loads strictly (same keys, order and shapes), and the
 * output, input gradient and parameter gradients match.
 */
class TransformerLayersParityTest {
  static final double TOL = 1e-5;
  static final Safetensors.File FIX = Fixtures.load("fixtures/layers/transformer.safetensors");
  static final Map<String, Supplier<Module>> MODULES = new LinkedHashMap<>();

  static {
    MODULES.put("layer_norm", () -> new LayerNorm(new long[] {8}, 1e-6, true));
    MODULES.put("layer_norm2d", () -> new LayerNorm2d(6, 1e-6));
    MODULES.put("permute", () -> new Permute(0, 2, 3, 1));
    MODULES.put("mha_batch_first", () -> new MultiheadAttention(12, 3, 0.0, true, true));
    MODULES.put("mha_seq_first", () -> new MultiheadAttention(12, 3, 0.0, true, false));
  }

  @Test
  void everyFixtureCaseHasAModule() {
    assertEquals(new TreeSet<>(Arrays.asList(FIX.metadata().get("cases").split(","))), new TreeSet<>(MODULES.keySet()));
  }

  @TestFactory
  Stream<DynamicTest> matchesPyTorch() {
    return MODULES.keySet().stream().map(name -> DynamicTest.dynamicTest(name, () -> check(name)));
  }

  static void check(String name) {
    Module m = MODULES.get(name).get();
    StateDict sd = new StateDict();
    List<String> torchKeys = new ArrayList<>();
    FIX.entries().forEach(e -> {
      if (e.name().startsWith(name + "/sd/")) {
        String key = e.name().substring((name + "/sd/").length());
        torchKeys.add(key);
        sd.put(key, FIX.tensor(e.name()));
      }
    });
    assertEquals(torchKeys, new ArrayList<>(m.stateDict().keys()), name + ": keys and order");
    m.loadStateDict(sd, true);
    Tensor x = FIX.tensor(name + "/x").requiresGrad(true);
    Tensor y = m.call(x);
    assertClose(y, FIX.tensor(name + "/out"), TOL, TOL, name + " output");
    y.backward(FIX.tensor(name + "/gout"));
    assertClose(x.grad(), FIX.tensor(name + "/gx"), TOL, TOL, name + " input gradient");
    for (Map.Entry<String, Parameter> p : m.namedParameters().entrySet()) {
      assertClose(p.getValue().grad(), FIX.tensor(name + "/grad/" + p.getKey()), TOL, TOL, name + " d/d" + p.getKey());
    }
  }

  @Test
  void outProjIsAReplaceableLinear() {
    MultiheadAttention mha = new MultiheadAttention(8, 2, 0.0, true, true);
    assertSame(mha.outProj(), mha.get("out_proj", Linear.class));
    Identity id = new Identity();
    mha.replace("out_proj", id);
    assertSame(id, mha.outProj(), "forward uses the replacement");
    assertEquals(List.of("in_proj_weight", "in_proj_bias"), new ArrayList<>(mha.stateDict().keys()));
    assertThrows(GraftException.class, () -> mha.replace("in_proj_weight", new Identity()));
  }

  @Test
  void badArgumentsAreGraftExceptions() {
    assertThrows(GraftException.class, () -> new MultiheadAttention(10, 3, 0, true, true));
    assertThrows(GraftException.class, () -> new LayerNorm(new long[0], 1e-5, true));
    assertThrows(GraftException.class, () -> new Permute(0, 0, 1));
    assertThrows(GraftException.class, () -> new GELU("erf"));
    MultiheadAttention mha = new MultiheadAttention(8, 2, 0.0, true, true);
    assertThrows(GraftException.class, () -> mha.call(Tensor.zeros(2, 3, 7)));
    assertThrows(GraftException.class, () -> new LayerNorm(8).call(Tensor.zeros(2, 7)));
  }
}
