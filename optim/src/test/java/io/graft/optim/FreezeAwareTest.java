package io.graft.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.Sequential;
import io.graft.layers.activation.ReLU;
import io.graft.layers.params.Params;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class FreezeAwareTest {
  static Sequential net() {
    Rng rng = new Rng(3);
    return new Sequential(new Linear(6, 8, true, rng), new ReLU(), new Linear(8, 8, true, rng), new ReLU(),
        new Linear(8, 3, true, rng));
  }

  static void backward(Module m) {
    m.call(Tensor.randn(new Rng(9), 5, 6)).pow(2).sum().backward();
  }

  static final Function<Map<String, Parameter>, Optimizer>[] OPTIMIZERS = optimizers();

  @SuppressWarnings("unchecked")
  static Function<Map<String, Parameter>, Optimizer>[] optimizers() {
    return new Function[] {
        p -> new SGD(SGD.Options.lr(0.1).withMomentum(0.9).withWeightDecay(0.1), (Map<String, Parameter>) p),
        p -> new Adam(Adam.Options.lr(0.01).withWeightDecay(0.1).withAmsgrad(true), (Map<String, Parameter>) p),
        p -> new AdamW(AdamW.defaults(0.01), (Map<String, Parameter>) p)};
  }

  @Test
  void frozenParametersStayBitIdenticalAndHoldNoState() {
    for (Function<Map<String, Parameter>, Optimizer> make : OPTIMIZERS) {
      Sequential m = net();
      Optimizer opt = make.apply(m.namedParameters());
      m.freeze("0", "2");
      float[] before = m.get("0", Linear.class).weight().toFloatArray();
      float[] before2 = m.get("2", Linear.class).bias().toFloatArray();
      float[] head = m.get("4", Linear.class).weight().toFloatArray();
      for (int i = 0; i < 3; i++) {
        opt.zeroGrad();
        backward(m);
        opt.step();
      }
      String name = opt.getClass().getSimpleName();
      assertArrayEquals(before, m.get("0", Linear.class).weight().toFloatArray(), name);
      assertArrayEquals(before2, m.get("2", Linear.class).bias().toFloatArray(), name);
      assertFalse(java.util.Arrays.equals(head, m.get("4", Linear.class).weight().toFloatArray()), name);
      assertEquals(2, opt.stateSize(), name + ": state only for the head's weight and bias");
      long head27 = 8 * 3 + 3;
      long expected = opt instanceof SGD ? head27 : opt instanceof AdamW ? 2 * head27 + 2 : 3 * head27 + 2;
      assertEquals(expected, opt.stateNumel(), name + ": state elements (momentum / moments + step) of the head");
    }
  }

  @Test
  void zeroGradientIsNotTheSameAsFrozen() {
    // a trainable parameter whose gradient is zero still decays (PyTorch semantics); a frozen one does not
    Parameter p = new Parameter(Tensor.fromArray(new float[] {1f, -1f}, 2).data());
    SGD opt = new SGD(SGD.Options.lr(0.1).withWeightDecay(0.5), Map.of("p", p));
    p.setGrad(Tensor.zeros(2));
    opt.step();
    assertArrayEquals(new float[] {0.95f, -0.95f}, p.toFloatArray());
    p.requiresGrad(false);
    opt.step();
    assertArrayEquals(new float[] {0.95f, -0.95f}, p.toFloatArray());
  }

  @Test
  void stateSurvivesFreezeAndResumesOnUnfreeze() {
    Sequential a = net();
    Sequential b = net();
    Optimizer oa = new SGD(SGD.Options.lr(0.1).withMomentum(0.9), a.namedParameters());
    Optimizer ob = new SGD(SGD.Options.lr(0.1).withMomentum(0.9), b.namedParameters());
    for (int i = 0; i < 2; i++) {
      oa.zeroGrad();
      backward(a);
      oa.step();
      ob.zeroGrad();
      backward(b);
      ob.step();
    }
    // b freezes its first layer for a while, then unfreezes: its momentum buffer is the one it had
    b.freeze("0");
    INDArrayHolder held = new INDArrayHolder(ob.state("0.weight").get("momentum_buffer").dup());
    ob.zeroGrad();
    backward(b);
    ob.step();
    assertArrayEquals(held.a.ravel().toFloatVector(), ob.state("0.weight").get("momentum_buffer").ravel().toFloatVector());
    b.unfreeze("0");
    ob.zeroGrad();
    backward(b);
    float[] gradB = b.get("0", Linear.class).weight().grad().toFloatArray();
    ob.step();
    float[] resumed = ob.state("0.weight").get("momentum_buffer").ravel().toFloatVector();
    // resumed: momentum * (the buffer held through the frozen steps) + this step's gradient
    float[] heldValues = held.a.ravel().toFloatVector();
    for (int i = 0; i < resumed.length; i++) {
      assertEquals(0.9f * heldValues[i] + gradB[i], resumed[i], 1e-6f, "momentum_buffer[" + i + "] resumed");
    }
    // with the reset option the buffer restarts from the current gradient instead
    Sequential c = net();
    Optimizer oc = new SGD(SGD.Options.lr(0.1).withMomentum(0.9), c.namedParameters()).resetStateOnUnfreeze(true);
    oc.zeroGrad();
    backward(c);
    oc.step();
    c.freeze("0");
    oc.zeroGrad();
    backward(c);
    oc.step();
    c.unfreeze("0");
    oc.zeroGrad();
    backward(c);
    float[] grad = c.get("0", Linear.class).weight().grad().toFloatArray();
    oc.step();
    assertArrayEquals(grad, oc.state("0.weight").get("momentum_buffer").ravel().toFloatVector());
    assertFalse(java.util.Arrays.equals(grad, resumed));
  }

  record INDArrayHolder(org.nd4j.linalg.api.ndarray.INDArray a) {}

  @Test
  void zeroGradClearsToNull() {
    Sequential m = net();
    Optimizer opt = new Adam(Adam.Options.lr(1e-3), m.namedParameters());
    backward(m);
    opt.zeroGrad();
    m.parameters().forEach(p -> assertNull(p.grad()));
  }

  @Test
  void discriminativeGroupsFromModuleNames() {
    Sequential m = net();
    ParamGroup head = ParamGroup.of(Params.select(m, "4")).lr(1e-2);
    ParamGroup body = ParamGroup.rest(m.namedParameters(), head);
    Optimizer opt = new SGD(SGD.Options.lr(1e-3).withMomentum(0.9), head, body);
    assertEquals(1e-2, opt.paramGroups().get(0).lr());
    assertEquals(1e-3, opt.paramGroups().get(1).lr(), "missing options fall back to the defaults");
    assertEquals(0.9, ((SGD.Options) opt.paramGroups().get(0).options()).momentum());
    assertEquals(java.util.List.of("4.weight", "4.bias"), new java.util.ArrayList<>(head.params().keySet()));
    GraftException e = assertThrows(GraftException.class,
        () -> opt.addParamGroup(ParamGroup.of(Params.select(m, "0"))));
    assertTrue(e.getMessage().contains("0.weight") && e.getMessage().contains("already"), e.getMessage());
    assertThrows(GraftException.class, () -> new SGD(SGD.Options.lr(0.1),
        ParamGroup.of(Params.select(m, "0")).with(Adam.Options.class, o -> o.withBetas(0.9, 0.99))));
    java.util.Map<String, io.graft.core.Parameter> twice = new java.util.LinkedHashMap<>();
    twice.put("w", m.get("0", Linear.class).weight());
    twice.put("w_again", m.get("0", Linear.class).weight());
    GraftException dup = assertThrows(GraftException.class, () -> new SGD(SGD.Options.lr(0.1), ParamGroup.of(twice)));
    assertTrue(dup.getMessage().contains("'w' and 'w_again'"), dup.getMessage());
  }

  @Test
  void addParamGroupMidTraining() {
    Sequential m = net();
    m.freeze("0", "2");
    Optimizer opt = new SGD(SGD.Options.lr(0.1), ParamGroup.of(Params.select(m, "4")));
    backward(m);
    opt.step();
    m.unfreeze("2");
    opt.addParamGroup(ParamGroup.of(Params.select(m, "2")).lr(0.01));
    opt.zeroGrad();
    float[] before = m.get("2", Linear.class).weight().toFloatArray();
    backward(m);
    opt.step();
    assertFalse(java.util.Arrays.equals(before, m.get("2", Linear.class).weight().toFloatArray()));
    assertEquals(2, opt.paramGroups().size());
  }
}
