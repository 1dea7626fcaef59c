package io.graft.core.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.testing.Fixtures;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Hardswish and Hardsigmoid against PyTorch ({@code tools/fixtures/conv_blocks.py}), forward and input gradient,
 * including the values exactly at the kinks ±3, where PyTorch's backward picks a side.
 */
class HardActivationParityTest {
  static final Map<String, Function<Tensor[], Tensor>> CASES = Map.of(
      "hardswish", in -> ActivationOps.hardswish(in[0]),
      "hardsigmoid", in -> ActivationOps.hardsigmoid(in[0]),
      "hardswish_edges", in -> ActivationOps.hardswish(in[0]),
      "hardsigmoid_edges", in -> ActivationOps.hardsigmoid(in[0]));
  static final Safetensors.File FIX = Fixtures.load("fixtures/ops/hard_activation.safetensors");

  @Test
  void everyFixtureCaseHasALambdaAndViceVersa() {
    assertEquals(new TreeSet<>(CASES.keySet()), new TreeSet<>(OpsParityTest.caseNames(FIX)));
  }

  @TestFactory
  Stream<DynamicTest> matchesPyTorchForwardAndBackward() {
    List<String> names = OpsParityTest.caseNames(FIX);
    return names.stream().map(n -> DynamicTest.dynamicTest(n, () ->
        OpsParityTest.check(OpsParityTest.Case.load(FIX, "hard_activation", n), CASES.get(n))));
  }
}
