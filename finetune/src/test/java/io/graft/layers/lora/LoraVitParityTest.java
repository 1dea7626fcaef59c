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
import io.graft.layers.loss.CrossEntropyLoss;
import io.graft.optim.Adam;
import io.graft.optim.AdamW;
import io.graft.optim.ParamGroup;
import io.graft.testing.Fixtures;
import io.graft.zoo.models.VisionTransformer;
import io.graft.zoo.weights.Weights;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * LoRA on torchvision's {@code vit_b_32} (64², 5 classes, seeded weights at gain 0.5) against the plain-torch LoRA of
 * {@code tools/lora_reference.py vit}: r = 4, alpha 8 on the attention projections of all 12 blocks — the packed q/k/v
 * projection ({@code encoder.layers.*.self_attention}) and {@code out_proj} — with {@code heads.head} trained fully;
 * 3 AdamW steps (lr 1e-4, eps 1e-6, weight decay 1e-2) on a batch of 2. The adapters and the head agree within 1e-5
 * absolute, every frozen weight is bit-identical to before, and the merged model's logits agree with the unmerged
 * ones within 1e-5. (At lr 1e-4 and eps 1e-6 torch's own float32 run stays within 1e-6 of its float64 one; AdamW's
 * per-element normalisation turns rounding noise on near-zero gradients into ±lr steps at larger lr / smaller eps.)
 */
class LoraVitParityTest {
  @Test
  void threeAdamWStepsOnVitB32MatchTorch() {
    Safetensors.File fix = Fixtures.load("fixtures/lora/vit_b_32.safetensors");
    StateDict all = fix.tensors();
    VisionTransformer m = VisionTransformer.vitB32(5, 64);
    Weights.loadInto(m, Fixtures.path("fixtures/lora/vit_b_32_base.pth"), true);
    List<String> keys = m.stateDict().keyList();
    Map<String, float[]> before = new LinkedHashMap<>();
    m.stateDict().forEach(e -> {
      if (!e.getKey().startsWith("heads.head.")) {
        before.put(e.getKey(), e.getValue().toFloatArray());
      }
    });
    LoraConfig config = LoraConfig.r(4).alpha(8).targets("encoder.layers.*.self_attention",
        "encoder.layers.*.self_attention.out_proj").modulesToSave("heads.head");
    Map<String, LoraLayer> layers = Lora.apply(m, config, new Rng(1));
    assertEquals(24, layers.size());
    StateDict init = all.withPrefixStripped("vit/init/");
    assertEquals(24, init.size());
    try (var g = GradMode.disabled()) {
      init.forEach(e -> m.stateDict().get(e.getKey()).data().assign(e.getValue().data()));
    }
    Map<String, Parameter> trainable = new LinkedHashMap<>();
    m.namedParameters().forEach((k, p) -> {
      if (p.requiresGrad()) {
        trainable.put(k, p);
      }
    });
    StateDict after = all.withPrefixStripped("vit/after/");
    assertEquals(after.keyList(), List.copyOf(trainable.keySet()), "trainable parameters, in torch's order");
    AdamW opt = new AdamW(Adam.Options.lr(1e-4).withEps(1e-6).withWeightDecay(1e-2), ParamGroup.of(trainable));
    Tensor x = all.get("vit/x");
    Tensor y = all.get("vit/y");
    double[] losses = all.get("vit/loss").toDoubleArray();
    CrossEntropyLoss loss = new CrossEntropyLoss();
    m.train();
    for (int step = 0; step < 3; step++) {
      m.zeroGrad();
      Tensor l = loss.forward(m.call(x), y);
      l.backward();
      assertEquals(losses[step], l.item(), 1e-5, "loss at step " + step);
      opt.step();
      m.namedParameters().forEach((k, p) -> {
        if (!p.requiresGrad()) {
          assertNull(p.grad(), "frozen " + k + " got a gradient");
        }
      });
    }
    assertEquals(trainable.size(), opt.stateSize(), "optimizer state only for the adapters and the head");
    double worst = 0;
    for (Map.Entry<String, Tensor> e : after) {
      Tensor mine = m.stateDict().get(e.getKey());
      assertClose(mine, e.getValue(), 1e-5, 0, e.getKey() + " after 3 AdamW steps");
      worst = Math.max(worst, LoraParityTestSupport.maxAbsDiff(mine, e.getValue()));
    }
    StateDict now = m.stateDict();
    before.forEach((k, v) -> LoraParityTestSupport.assertBits(v, now.get(k).toFloatArray(), "frozen " + k));
    m.eval();
    Tensor logits;
    Tensor merged;
    try (var g = GradMode.disabled()) {
      logits = m.call(x);
      assertClose(logits, all.get("vit/logits"), 1e-5, 1e-5, "eval logits vs torch");
      Lora.merge(m);
      merged = m.call(x);
      assertClose(merged, logits, 1e-5, 0, "merged vs unmerged logits");
      assertClose(merged, all.get("vit/merged_logits"), 1e-5, 1e-5, "merged logits vs torch's merged model");
      Lora.unmerge(m);
      StateDict back = m.stateDict();
      before.forEach((k, v) -> LoraParityTestSupport.assertBits(v, back.get(k).toFloatArray(), "after unmerge " + k));
      Lora.mergeAndUnload(m);
    }
    assertEquals(keys, m.stateDict().keyList(), "the merged model has torchvision's keys only");
    System.out.printf("LoRA parity vit_b_32: adapters and head max |diff| vs torch after 3 AdamW steps %.2e, merged vs "
        + "unmerged logits %.2e, frozen weights bit-identical%n", worst,
        LoraParityTestSupport.maxAbsDiff(merged, logits));
  }
}
