package io.graft.layers.lora;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.graft.core.Parameter;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.Safetensors;
import io.graft.core.random.Rng;
import io.graft.layers.Flatten;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.Sequential;
import io.graft.layers.activation.ReLU;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.loss.CrossEntropyLoss;
import io.graft.optim.Adam;
import io.graft.optim.AdamW;
import io.graft.optim.ParamGroup;
import io.graft.testing.Fixtures;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * LoRA training against the plain-torch LoRA of {@code tools/lora_reference.py} (PEFT's semantics): the same base
 * weights and initial {@code lora_A}, 3 AdamW steps (lr 1e-2, weight decay 1e-2) on cross-entropy, then the adapters
 * (and the fully trained module to save) within 1e-5 absolute, the losses, the base weights bit-identical to before,
 * the eval logits unmerged and merged against torch's, and Graft's merged logits against its unmerged ones within
 * 1e-5. An MLP (two adapted Linears, the last Linear trained fully) and a CNN (two adapted Conv2d, one with stride 2,
 * and an adapted Linear).
 */
class LoraParityTest {
  static final Safetensors.File FIX = Fixtures.load("fixtures/lora/small.safetensors");

  @Test
  void mlpMatchesTorch() {
    Module m = new Sequential(new Linear(6, 8), new ReLU(), new Linear(8, 8), new ReLU(), new Linear(8, 5));
    run("mlp", m, LoraConfig.r(4).alpha(8).targets("0", "2").modulesToSave("4"));
  }

  @Test
  void cnnMatchesTorch() {
    Module m = new Sequential(new Conv2d(3, 4, 3, Conv2d.Options.defaults().withPadding(1)), new ReLU(),
        new Conv2d(4, 6, 3, Conv2d.Options.defaults().withStride(2).withPadding(1)), new ReLU(), new Flatten(),
        new Linear(6 * 4 * 4, 3));
    run("cnn", m, LoraConfig.r(2).alpha(6).targets("0", "2", "5"));
  }

  private static void run(String name, Module m, LoraConfig config) {
    StateDict all = FIX.tensors();
    StateDict base = all.withPrefixStripped(name + "/base/");
    m.loadStateDict(base, true);
    Map<String, float[]> before = new LinkedHashMap<>();
    base.keys().forEach(k -> before.put(k, m.stateDict().get(k).toFloatArray()));
    Map<String, LoraLayer> layers = Lora.apply(m, config, new Rng(1));
    for (String path : config.modulesToSave()) {
      before.keySet().removeIf(k -> k.startsWith(path + "."));   // trained fully
    }
    StateDict init = all.withPrefixStripped(name + "/init/");
    assertEquals(layers.size(), init.size());
    try (var g = GradMode.disabled()) {
      init.forEach(e -> m.stateDict().get(e.getKey()).data().assign(e.getValue().data()));
    }
    Map<String, Parameter> trainable = new LinkedHashMap<>();
    m.namedParameters().forEach((k, p) -> {
      if (p.requiresGrad()) {
        trainable.put(k, p);
      }
    });
    StateDict after = all.withPrefixStripped(name + "/after/");
    assertEquals(after.keyList(), List.copyOf(trainable.keySet()), "trainable parameters, in torch's order");
    AdamW opt = new AdamW(Adam.Options.lr(1e-2).withWeightDecay(1e-2), ParamGroup.of(trainable));
    Tensor x = all.get(name + "/x");
    Tensor y = all.get(name + "/y");
    CrossEntropyLoss loss = new CrossEntropyLoss();
    double[] losses = all.get(name + "/loss").toDoubleArray();
    m.train();
    for (int step = 0; step < 3; step++) {
      m.zeroGrad();
      Tensor l = loss.forward(m.call(x), y);
      l.backward();
      assertEquals(losses[step], l.item(), 1e-5, "loss at step " + step);
      opt.step();
      for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
        if (!e.getValue().requiresGrad()) {
          assertNull(e.getValue().grad(), "frozen " + e.getKey() + " got a gradient");
        }
      }
    }
    assertEquals(trainable.size(), opt.stateSize(), "optimizer state only for the trainable parameters");
    double worst = 0;
    for (Map.Entry<String, Tensor> e : after) {
      Tensor mine = m.stateDict().get(e.getKey());
      assertClose(mine, e.getValue(), 1e-5, 0, name + " " + e.getKey() + " after 3 AdamW steps");
      worst = Math.max(worst, maxAbsDiff(mine, e.getValue()));
    }
    for (Map.Entry<String, float[]> e : before.entrySet()) {
      assertBits(e.getValue(), m.stateDict().get(e.getKey()).toFloatArray(), name + " base " + e.getKey());
    }
    m.eval();
    Tensor logits;
    Tensor merged;
    try (var g = GradMode.disabled()) {
      logits = m.call(x);
      assertClose(logits, all.get(name + "/logits"), 1e-5, 0, name + " eval logits vs torch");
      Lora.merge(m);
      merged = m.call(x);
      assertClose(merged, logits, 1e-5, 0, name + " merged vs unmerged logits");
      assertClose(merged, all.get(name + "/merged_logits"), 1e-5, 0, name + " merged logits vs torch");
      Lora.unmerge(m);
      for (Map.Entry<String, float[]> e : before.entrySet()) {
        assertBits(e.getValue(), m.stateDict().get(e.getKey()).toFloatArray(), name + " base after unmerge "
            + e.getKey());
      }
      Lora.mergeAndUnload(m);
    }
    StateDict plain = all.withPrefixStripped(name + "/merged/");
    assertEquals(plain.keyList(), m.stateDict().keyList(), "merged model's keys are the base model's");
    plain.forEach(e -> assertClose(m.stateDict().get(e.getKey()), e.getValue(), 1e-5, 0, name + " merged "
        + e.getKey()));
    System.out.printf("LoRA parity %s: adapters max |diff| vs torch after 3 AdamW steps %.2e, merged vs unmerged "
        + "logits %.2e, base bit-identical%n", name, worst, maxAbsDiff(merged, logits));
  }

  private static double maxAbsDiff(Tensor a, Tensor b) {
    double[] x = a.toDoubleArray();
    double[] y = b.toDoubleArray();
    double d = 0;
    for (int i = 0; i < x.length; i++) {
      d = Math.max(d, Math.abs(x[i] - y[i]));
    }
    return d;
  }

  static void assertBits(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what);
    int[] e = new int[expected.length];
    int[] a = new int[actual.length];
    for (int i = 0; i < e.length; i++) {
      e[i] = Float.floatToRawIntBits(expected[i]);
      a[i] = Float.floatToRawIntBits(actual[i]);
    }
    assertArrayEquals(e, a, what + " is not bit-identical");
  }
}
