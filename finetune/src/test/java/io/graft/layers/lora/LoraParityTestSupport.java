package io.graft.layers.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.graft.core.Tensor;

/** Comparisons for the LoRA parity tests: the largest absolute difference, and bit identity of float arrays. */
final class LoraParityTestSupport {
  private LoraParityTestSupport() {}

  static double maxAbsDiff(Tensor a, Tensor b) {
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
    for (int i = 0; i < expected.length; i++) {
      if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
        assertArrayEquals(expected, actual, what + " is not bit-identical (first at " + i + ")");
        throw new AssertionError(what + " differs in the sign of a zero at " + i);
      }
    }
  }
}
