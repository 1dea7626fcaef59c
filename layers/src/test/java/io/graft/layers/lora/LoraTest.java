package io.graft.layers.lora;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.random.Rng;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.MultiheadAttention;
import io.graft.layers.Sequential;
import io.graft.layers.activation.ReLU;
import io.graft.layers.conv.Conv2d;
import java.util.ArrayDeque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LoraTest {
  private static Sequential mlp() {
    Rng rng = new Rng(7);
    return new Sequential(new Linear(5, 4, true, rng), new ReLU(), new Linear(4, 3, true, rng));
  }

  private static Sequential cnn() {
    Conv2d.Options o = Conv2d.Options.defaults().withRng(new Rng(8));
    return new Sequential(new Conv2d(3, 4, 3, o.withStride(2).withPadding(1)), new ReLU(), new Conv2d(4, 2, 1, o));
  }

  /** Gives every adapter random values (B is zero after apply, which would hide the adapter's effect). */
  private static void randomise(Module m, long seed) {
    Rng rng = new Rng(seed);
    try (var g = GradMode.disabled()) {
      for (LoraLayer l : Lora.layers(m).values()) {
        l.loraA().data().assign(Tensor.randn(rng, l.loraA().shape()).data());
        l.loraB().data().assign(Tensor.randn(rng, l.loraB().shape()).data());
      }
    }
  }

  private static int[] bits(Tensor t) {
    float[] f = t.toFloatArray();
    int[] b = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      b[i] = Float.floatToRawIntBits(f[i]);
    }
    return b;
  }

  @Test
  void keepsTheBaseKeysAndAddsPeftsAdapterKeys() {
    Sequential m = mlp();
    Tensor x = Tensor.randn(new Rng(1), 2, 5);
    Tensor before = m.call(x);
    Map<String, LoraLayer> ls = Lora.apply(m, LoraConfig.r(2).alpha(4).targets("0", "2"));
    assertEquals(List.of("0", "2"), List.copyOf(ls.keySet()));
    assertEquals(List.of("0.weight", "0.bias", "0.lora_A.weight", "0.lora_B.weight", "2.weight", "2.bias",
        "2.lora_A.weight", "2.lora_B.weight"), m.stateDict().keyList());
    assertArrayEquals(new long[] {2, 5}, ls.get("0").loraA().shape());
    assertArrayEquals(new long[] {4, 2}, ls.get("0").loraB().shape());
    assertEquals(2.0, ls.get("0").scaling());
    m.namedParameters().forEach((k, p) -> assertEquals(k.contains("lora_"), p.requiresGrad(), k));
    assertArrayEquals(bits(before), bits(m.call(x)), "B starts at zero: the adapted model starts as the base");
  }

  @Test
  void aGlobMatchesWholePathsWithStarsAcrossDots() {
    assertTrue(LoraConfig.matches("encoder.layers.*.self_attention.out_proj",
        "encoder.layers.encoder_layer_11.self_attention.out_proj"));
    assertTrue(LoraConfig.matches("*.mlp.0", "encoder.layers.encoder_layer_0.mlp.0"));
    assertFalse(LoraConfig.matches("mlp.0", "encoder.layers.encoder_layer_0.mlp.0"));
    assertFalse(LoraConfig.matches("*.mlp.0", "encoder.layers.encoder_layer_0.mlp.0.x"));
    assertTrue(LoraConfig.matches("layer?.*", "layer4.1.conv2"));
    assertFalse(LoraConfig.matches("a*a*a*a*a*a*a*a*a*a*b", "a".repeat(200)));
  }

  @Test
  void refusesBadConfigsNamingTheField() {
    assertTrue(assertThrows(GraftException.class, () -> LoraConfig.r(0)).getMessage().contains("r must be"));
    assertTrue(assertThrows(GraftException.class, () -> LoraConfig.r(4).alpha(Double.NaN)).getMessage()
        .contains("alpha"));
    assertTrue(assertThrows(GraftException.class, () -> LoraConfig.r(4).dropout(1)).getMessage().contains("dropout"));
    assertTrue(assertThrows(GraftException.class, () -> Lora.apply(mlp(), LoraConfig.r(4))).getMessage()
        .contains("no targets"));
  }

  @Test
  void refusesTargetsThatMatchNothingOrNoLinearNamingThemAndChangesNothing() {
    Sequential m = mlp();
    List<String> keys = m.stateDict().keyList();
    GraftException none = assertThrows(GraftException.class,
        () -> Lora.apply(m, LoraConfig.r(2).targets("0", "*.out_proj")));
    assertTrue(none.getMessage().contains("'*.out_proj' matches no module"), none.getMessage());
    GraftException relu = assertThrows(GraftException.class, () -> Lora.apply(m, LoraConfig.r(2).targets("?")));
    assertTrue(relu.getMessage().contains("'1', a ReLU"), relu.getMessage());
    GraftException root = assertThrows(GraftException.class, () -> Lora.apply(m, LoraConfig.r(2).targets("*")));
    assertTrue(root.getMessage().contains("'(the model)', a Sequential"), root.getMessage());
    GraftException save = assertThrows(GraftException.class,
        () -> Lora.apply(m, LoraConfig.r(2).targets("0").modulesToSave("0")));
    assertTrue(save.getMessage().contains("'0' is also adapted"), save.getMessage());
    assertEquals(keys, m.stateDict().keyList());
    m.parameters().forEach(p -> assertTrue(p.requiresGrad()));
    Lora.apply(m, LoraConfig.r(2).targets("0"));
    Lora.apply(m, LoraConfig.r(2).targets("2"));
    m.namedParameters().forEach((k, p) -> assertEquals(k.contains("lora_"), p.requiresGrad(),
        k + ": a second apply keeps the first one's adapters trainable"));
    GraftException twice = assertThrows(GraftException.class, () -> Lora.apply(m, LoraConfig.r(2).targets("0")));
    assertTrue(twice.getMessage().contains("already adapted"), twice.getMessage());
    GraftException inside = assertThrows(GraftException.class,
        () -> Lora.apply(m, LoraConfig.r(2).targets("0.lora_A")));
    assertTrue(inside.getMessage().contains("inside the adapter of the LoraLayer '0'"), inside.getMessage());
  }

  /** A parent that holds its Linear in a field and cannot take a new one. */
  static final class Fixed extends Module {
    final Sequential seq = registerModule("seq", new Sequential(new Linear(3, 3)));
    final Linear fc = registerModule("fc", new Linear(3, 2));

    @Override
    public Tensor forward(Tensor x) {
      return fc.call(seq.call(x));
    }
  }

  @Test
  void undoesEverythingWhenAParentRefusesTheAdapter() {
    Fixed m = new Fixed();
    GraftException e = assertThrows(GraftException.class, () -> Lora.apply(m, LoraConfig.r(2).targets("seq.0", "fc")));
    assertTrue(e.getMessage().contains("cannot put an adapter at 'fc'"), e.getMessage());
    assertInstanceOf(Linear.class, m.get("seq.0"));
    assertEquals(List.of("seq.0.weight", "seq.0.bias", "fc.weight", "fc.bias"), m.stateDict().keyList());
    m.parameters().forEach(p -> assertTrue(p.requiresGrad()));
  }

  @Test
  void refusesGroupedAndDilatedConvolutionsNamingThePath() {
    Sequential m = new Sequential(new Conv2d(4, 4, 3, Conv2d.Options.defaults().withGroups(2)),
        new Conv2d(4, 4, 3, Conv2d.Options.defaults().withDilation(2)));
    GraftException g = assertThrows(GraftException.class, () -> Lora.apply(m, LoraConfig.r(2).targets("0")));
    assertTrue(g.getMessage().contains("target '0'") && g.getMessage().contains("groups=2"), g.getMessage());
    GraftException d = assertThrows(GraftException.class, () -> Lora.apply(m, LoraConfig.r(2).targets("1")));
    assertTrue(d.getMessage().contains("dilation=(2, 2)"), d.getMessage());
    m.parameters().forEach(p -> assertTrue(p.requiresGrad()));
  }

  /** Every tensor reachable from {@code y}'s graph, with the ops that take it as an input. */
  private static Map<Tensor, List<String>> graph(Tensor y) {
    Map<Tensor, List<String>> consumers = new IdentityHashMap<>();
    Map<Tensor, Boolean> seen = new IdentityHashMap<>();
    ArrayDeque<Tensor> todo = new ArrayDeque<>(List.of(y));
    while (!todo.isEmpty()) {
      Tensor t = todo.pop();
      if (seen.put(t, Boolean.TRUE) != null || t.gradFn() == null) {
        continue;
      }
      for (Tensor in : t.gradFn().inputs()) {
        if (in != null) {
          consumers.computeIfAbsent(in, k -> new java.util.ArrayList<>()).add(t.gradFn().op());
          todo.push(in);
        }
      }
    }
    return consumers;
  }

  /**
   * No gradient is computed for a frozen base weight: it is an input only of its layer's joint node (linear's or
   * conv2d's), which marks it as not needing a gradient, so the node's backward computes the input gradient alone
   * (linear skips its dW GEMM; the kernels' needW = false paths: ConvOpsTest, OneDnnConvTest), and no other op
   * (a transpose, a matmul) sees it.
   */
  @Test
  void frozenBaseWeightsGetNoGradientComputed() {
    for (Sequential m : List.of(mlp(), cnn())) {
      Map<String, LoraLayer> ls = Lora.apply(m, LoraConfig.r(2).targets("0", "2"));
      randomise(m, 3);
      boolean conv = m.get("0") instanceof LoraConv2d;
      Tensor x = conv ? Tensor.randn(new Rng(2), 2, 3, 6, 6) : Tensor.randn(new Rng(2), 2, 5);
      x.requiresGrad(true);
      Tensor y = m.call(x);
      Map<Tensor, List<String>> g = graph(y);
      for (LoraLayer l : ls.values()) {
        for (Parameter p : l.base().parameters()) {
          assertFalse(p.requiresGrad());
          List<String> ops = g.getOrDefault(p, List.of());
          assertTrue(ops.stream().allMatch((conv ? "conv2d" : "linear")::equals),
              "a frozen base parameter is an input of " + ops);
        }
        assertTrue(g.containsKey(l.loraA()) && g.containsKey(l.loraB()));
      }
      y.sum().backward();
      for (LoraLayer l : ls.values()) {
        l.base().parameters().forEach(p -> assertNull(p.grad()));
        assertNotNull(l.loraA().grad());
        assertNotNull(l.loraB().grad());
      }
      assertNotNull(x.grad(), "the input still gets its gradient through the frozen weights");
    }
  }

  @Test
  void mergeMatchesTheAdapterAndUnmergeRestoresTheBaseBitForBit() {
    for (Sequential m : List.of(mlp(), cnn())) {
      Map<String, LoraLayer> ls = Lora.apply(m, LoraConfig.r(3).alpha(5).targets("0", "2"));
      randomise(m, 4);
      Tensor x = m.get("0") instanceof LoraConv2d ? Tensor.randn(new Rng(2), 2, 3, 7, 7)
          : Tensor.randn(new Rng(2), 2, 5);
      m.eval();
      int[][] before = ls.values().stream().map(l -> bits(l.weight())).toArray(int[][]::new);
      Tensor unmerged = m.call(x);
      Lora.merge(m);
      ls.values().forEach(l -> assertTrue(l.isMerged()));
      assertFalse(java.util.Arrays.equals(before[0], bits(ls.get("0").weight())), "merge changes the weight");
      assertClose(m.call(x), unmerged, 1e-5, 1e-5, "merged vs unmerged");
      assertThrows(GraftException.class, () -> ls.get("0").merge());
      Lora.unmerge(m);
      int i = 0;
      for (LoraLayer l : ls.values()) {
        assertArrayEquals(before[i++], bits(l.weight()), "unmerge restores the base weight's bits");
      }
      assertThrows(GraftException.class, () -> ls.get("0").unmerge());
      assertArrayEquals(bits(unmerged), bits(m.call(x)));
    }
  }

  @Test
  void theDeltaIsScalingTimesBTimesA() {
    Sequential m = cnn();
    LoraLayer l = Lora.apply(m, LoraConfig.r(2).alpha(3).targets("0")).get("0");
    randomise(m, 5);
    float[] a = l.loraA().toFloatArray();   // [2, 3, 3, 3]
    float[] b = l.loraB().toFloatArray();   // [4, 2, 1, 1]
    float[] d = l.delta().toFloatArray();   // [4, 3, 3, 3]
    for (int o = 0; o < 4; o++) {
      for (int j = 0; j < 27; j++) {
        double want = 1.5 * (b[o * 2] * a[j] + b[o * 2 + 1] * a[27 + j]);
        assertEquals(want, d[o * 27 + j], 1e-5);
      }
    }
  }

  @Test
  void mergeAndUnloadLeavesThePlainModel() {
    Sequential m = mlp();
    List<String> keys = m.stateDict().keyList();
    Lora.apply(m, LoraConfig.r(2).targets("0", "2"));
    randomise(m, 6);
    m.eval();
    Tensor x = Tensor.randn(new Rng(2), 3, 5);
    Tensor unmerged = m.call(x);
    Lora.mergeAndUnload(m);
    assertEquals(keys, m.stateDict().keyList());
    assertInstanceOf(Linear.class, m.get("0"));
    assertInstanceOf(Linear.class, m.get("2"));
    assertTrue(Lora.layers(m).isEmpty());
    assertClose(m.call(x), unmerged, 1e-5, 1e-5, "merged and unloaded vs unmerged");
  }

  @Test
  void unloadPutsTheOriginalLayersBack() {
    Sequential m = mlp();
    Tensor x = Tensor.randn(new Rng(2), 3, 5);
    m.eval();
    Tensor base = m.call(x);
    Lora.apply(m, LoraConfig.r(2).targets("0", "2"));
    randomise(m, 6);
    Lora.merge(m);
    Lora.unload(m);
    assertTrue(Lora.layers(m).isEmpty());
    assertArrayEquals(bits(base), bits(m.call(x)));
  }

  @Test
  void dropoutActsOnTheAdapterInputOnlyAndNotInEval() {
    Sequential m = mlp();
    Tensor x = Tensor.randn(new Rng(2), 8, 5);
    m.train();
    Tensor base = m.call(x);
    Lora.apply(m, LoraConfig.r(2).dropout(0.5).targets("0", "2"), new Rng(11));
    assertArrayEquals(bits(base), bits(m.call(x)), "B = 0: dropout on the adapter input leaves the base path alone");
    randomise(m, 7);
    Tensor t1 = m.call(x);
    Tensor t2 = m.call(x);
    assertNotEquals(java.util.Arrays.toString(t1.toFloatArray()), java.util.Arrays.toString(t2.toFloatArray()),
        "training: fresh masks each call");
    m.eval();
    Tensor e1 = m.call(x);
    Lora.merge(m);
    assertClose(m.call(x), e1, 1e-5, 1e-5, "eval: no dropout, so the merged model agrees");
  }

  /** A block shaped like a ViT encoder layer's attention: a Sequential holding a batch-first MultiheadAttention. */
  private static Sequential attention() {
    return new Sequential(new MultiheadAttention(8, 2, 0.0, true, true, new Rng(9)));
  }

  @Test
  void adaptsThePackedInProjectionAndOutProjOfAnAttentionModule() {
    Sequential m = attention();
    Tensor x = Tensor.randn(new Rng(2), 2, 3, 8);
    m.eval();
    Tensor base = m.call(x);
    List<String> keys = m.stateDict().keyList();
    Map<String, LoraLayer> ls = Lora.apply(m, LoraConfig.r(2).alpha(4).targets("0", "0.out_proj"));
    assertInstanceOf(LoraMultiheadAttention.class, ls.get("0"));
    assertInstanceOf(LoraLinear.class, ls.get("0.out_proj"));
    assertEquals(List.of("0.in_proj_weight", "0.in_proj_bias", "0.out_proj.weight", "0.out_proj.bias",
        "0.out_proj.lora_A.weight", "0.out_proj.lora_B.weight", "0.lora_A.weight", "0.lora_B.weight"),
        m.stateDict().keyList());
    assertArrayEquals(new long[] {24, 2}, ls.get("0").loraB().shape());
    assertClose(m.call(x), base, 0, 0, "B = 0: the adapted attention starts as the base");
    randomise(m, 8);
    Tensor adapted = m.call(x);
    assertFalse(java.util.Arrays.equals(bits(base), bits(adapted)), "both adapters change the output");
    int[] in = bits(ls.get("0").weight());
    Lora.merge(m);
    assertClose(m.call(x), adapted, 1e-5, 1e-5, "merged vs unmerged attention");
    Lora.unmerge(m);
    assertArrayEquals(in, bits(ls.get("0").weight()));
    Lora.mergeAndUnload(m);
    assertEquals(keys, m.stateDict().keyList());
    MultiheadAttention plain = m.get("0", MultiheadAttention.class);
    assertInstanceOf(Linear.class, plain.outProj());
    assertClose(m.call(x), adapted, 1e-5, 1e-5, "merged and unloaded vs unmerged attention");
  }

  @Test
  void theAttentionsFrozenInProjectionGetsNoGradient() {
    Sequential m = attention();
    LoraLayer l = Lora.apply(m, LoraConfig.r(2).targets("0")).get("0");
    randomise(m, 9);
    Tensor x = Tensor.randn(new Rng(2), 2, 3, 8);
    x.requiresGrad(true);
    Tensor y = m.call(x);
    Map<Tensor, List<String>> g = graph(y);
    for (Parameter p : l.base().parameters()) {
      // only of linear's joint node, which computes no gradient for it (see frozenBaseWeightsGetNoGradientComputed)
      assertTrue(g.getOrDefault(p, List.of()).stream().allMatch("linear"::equals),
          "a frozen parameter is an input of " + g.get(p));
    }
    y.sum().backward();
    l.base().parameters().forEach(p -> assertNull(p.grad()));
    assertNotNull(l.loraA().grad());
    assertNotNull(l.loraB().grad());
  }
}
