package io.graft.core.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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

  /**
   * PyTorch (1.13): hardswish(NaN, inf, -inf, -3, 3) = (NaN, inf, NaN, -0, 3) and, for upstream gradients (NaN, inf,
   * 1, NaN, inf), input gradients (NaN, inf, 0, NaN, inf): x &lt; -3 gives exactly 0 whatever the gradient, NaN takes
   * the last branch (g). hardsigmoid gives (NaN, 1, 0, 0, 1) and exactly 0 outside (-3, 3), NaN included.
   */
  @Test
  void nonFiniteValuesBehaveAsInPyTorch() {
    float nan = Float.NaN;
    float inf = Float.POSITIVE_INFINITY;
    float[] xs = {nan, inf, -inf, -3f, 3f};
    float[] gs = {nan, inf, 1f, nan, inf};
    Tensor x = Tensor.fromArray(xs, 5).requiresGrad(true);
    Tensor y = ActivationOps.hardswish(x);
    y.backward(Tensor.fromArray(gs, 5));
    assertArrayEquals(new float[] {nan, inf, nan, -0f, 3f}, y.toFloatArray(), "hardswish forward");
    assertArrayEquals(new float[] {nan, inf, 0f, nan, inf}, x.grad().toFloatArray(), "hardswish backward");
    Tensor x2 = Tensor.fromArray(xs, 5).requiresGrad(true);
    Tensor y2 = ActivationOps.hardsigmoid(x2);
    y2.backward(Tensor.fromArray(gs, 5));
    assertArrayEquals(new float[] {nan, 1f, 0f, 0f, 1f}, y2.toFloatArray(), "hardsigmoid forward");
    assertArrayEquals(new float[] {0f, 0f, 0f, 0f, 0f}, x2.grad().toFloatArray(), "hardsigmoid backward");
  }

  @TestFactory
  Stream<DynamicTest> matchesPyTorchForwardAndBackward() {
    List<String> names = OpsParityTest.caseNames(FIX);
    return names.stream().map(n -> DynamicTest.dynamicTest(n, () ->
        OpsParityTest.check(OpsParityTest.Case.load(FIX, "hard_activation", n), CASES.get(n))));
  }
}
