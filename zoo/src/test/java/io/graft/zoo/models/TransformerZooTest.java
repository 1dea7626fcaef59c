package io.graft.zoo.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.ShapeException;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.random.Rng;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Heads, stages and the replaceable Linears of ViT, ConvNeXt and Swin (the paths LoRA and fine-tuning use). */
class TransformerZooTest {
  /** A module that adds a fixed offset after the Linear it wraps (a stand-in for an adapter). */
  static final class Shifted extends Module {
    final Module inner;

    Shifted(Module inner) {
      this.inner = registerModule("base_layer", inner);
    }

    @Override
    public Tensor forward(Tensor x) {
      return inner.call(x).add(1.0);
    }
  }

  @Test
  void headsAreFoundAndReplaced() {
    Map<String, Long> features = Map.of("vit_b_16", 768L, "convnext_tiny", 768L, "swin_t", 768L);
    Map<String, String> heads = Map.of("vit_b_16", "heads.head", "convnext_tiny", "classifier.2", "swin_t", "head");
    heads.forEach((name, path) -> {
      Classifier c = Zoo.classifier(name, 1000);
      assertEquals(path, c.headPath());
      assertEquals(path, Zoo.headPath(name));
      assertEquals(features.get(name), c.numFeatures());
      c.replaceHead(7);
      assertEquals(7, c.head().outFeatures());
    });
    assertArrayEquals(new long[] {3, 224, 224}, Zoo.inputShape("vit_b_32"));
    assertArrayEquals(new long[] {3, -1, -1}, Zoo.inputShape("swin_t"));
  }

  @Test
  void smallViTNamesItsStagesAndRefusesAnotherImageSize() {
    VisionTransformer v = new VisionTransformer(32, 16, 2, 2, 8, 16, 0, 0, 3);
    assertEquals(List.of("conv_proj+class_token+encoder.pos_embedding", "encoder.layers.encoder_layer_0",
        "encoder.layers.encoder_layer_1", "encoder.ln"), v.stages().orElseThrow());
    assertArrayEquals(new long[] {1, 5, 8}, v.stateDict().get("encoder.pos_embedding").shape());
    ShapeException e = assertThrows(ShapeException.class, () -> v.call(Tensor.zeros(1, 3, 64, 64)));
    assertTrue(e.getMessage().contains("32"), e.getMessage());
  }

  @Test
  void vitAttentionAndMlpLinearsCanBeWrappedByPath() {
    VisionTransformer v = new VisionTransformer(32, 16, 2, 2, 8, 16, 0, 0, 3);
    v.eval();
    Tensor x = Tensor.randn(new Rng(3), 2, 3, 32, 32);
    Tensor before;
    try (var g = GradMode.disabled()) {
      before = v.call(x);
    }
    // heads start at zero (torchvision): give the head weights so the change shows in the logits
    io.graft.core.init.Init.normal(v.head().weight(), 0, 1, new Rng(4));
    try (var g = GradMode.disabled()) {
      before = v.call(x);
    }
    for (String path : List.of("encoder.layers.encoder_layer_0.self_attention.out_proj",
        "encoder.layers.encoder_layer_1.mlp.0", "encoder.layers.encoder_layer_1.mlp.3")) {
      Module old = v.get(path);
      assertTrue(old instanceof Linear, path);
      Shifted s = new Shifted(old);
      v.replace(path, s);
      assertSame(s, v.get(path), path);
    }
    assertTrue(v.stateDict().keys().contains("encoder.layers.encoder_layer_0.self_attention.out_proj.base_layer.weight"));
    Tensor after;
    try (var g = GradMode.disabled()) {
      after = v.call(x);
    }
    double diff = 0;
    float[] a = before.toFloatArray();
    float[] b = after.toFloatArray();
    for (int i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
    }
    assertTrue(diff > 1e-3, "the wrapped Linears run in forward (logits moved by " + diff + ")");
  }

  @Test
  void convNeXtAndSwinRunOnSmallInputsAndTrain() {
    for (String name : List.of("swin_t", "convnext_tiny")) {
      Module m = Zoo.create(name, 4);
      Tensor y = m.call(Tensor.randn(new Rng(5), 1, 3, 32, 32));
      assertArrayEquals(new long[] {1, 4}, y.shape(), name);
      y.sum().backward();
      long withGrad = m.parameters().stream().filter(p -> p.grad() != null).count();
      assertEquals(m.parameters().size(), withGrad, name + ": every parameter gets a gradient");
    }
  }
}
