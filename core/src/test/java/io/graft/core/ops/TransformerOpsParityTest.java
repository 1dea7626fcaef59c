package io.graft.core.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.testing.Fixtures;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Layer norm, GELU's tanh form and scaled dot-product attention, forward and input gradients, against PyTorch
 * ({@code tools/fixtures/transformer_ops.py}, in {@link OpsParityTest}'s case format and tolerances).
 */
class TransformerOpsParityTest {
  static final Map<String, Function<Tensor[], Tensor>> CASES = new LinkedHashMap<>();

  static {
    CASES.put("layer_norm_last", in -> LayerNormOps.layerNorm(in[0], new long[] {8}, in[1], in[2], 1e-5));
    CASES.put("layer_norm_two_dims", in -> LayerNormOps.layerNorm(in[0], new long[] {4, 5}, in[1], in[2], 1e-6));
    CASES.put("layer_norm_no_affine", in -> LayerNormOps.layerNorm(in[0], new long[] {6}, null, null, 1e-5));
    CASES.put("gelu_tanh", in -> ActivationOps.geluTanh(in[0]));
    CASES.put("sdpa_4d", in -> AttentionOps.scaledDotProductAttention(in[0], in[1], in[2], null, 0, false, null));
    CASES.put("sdpa_mask", in -> AttentionOps.scaledDotProductAttention(in[0], in[1], in[2], in[3], 0, false, null));
  }

  static final Safetensors.File FIX = Fixtures.load("fixtures/ops/transformer.safetensors");

  @Test
  void everyFixtureCaseHasALambda() {
    assertEquals(new TreeSet<>(OpsParityTest.caseNames(FIX)), new TreeSet<>(CASES.keySet()));
  }

  @TestFactory
  Stream<DynamicTest> matchesPyTorch() {
    return OpsParityTest.caseNames(FIX).stream().map(name -> DynamicTest.dynamicTest(name,
        () -> OpsParityTest.check(OpsParityTest.Case.load(FIX, "transformer", name), CASES.get(name))));
  }
}
