package io.graft.testing;

import static org.junit.jupiter.api.Assertions.fail;

import io.graft.core.Tensor;
import java.util.Arrays;

/** Closeness assertions that report shapes, the worst element and where it is. */
public final class TensorAssert {
  private TensorAssert() {}

  /** Passes when every |actual - expected| &lt;= atol + rtol * |expected| and the shapes are equal. */
  public static void assertClose(Tensor actual, Tensor expected, double atol, double rtol, String what) {
    if (actual == null) {
      fail(what + ": actual is null");
    }
    if (!Arrays.equals(actual.shape(), expected.shape())) {
      fail(what + ": shape " + Arrays.toString(actual.shape()) + " != expected " + Arrays.toString(expected.shape()));
    }
    double[] a = actual.toDoubleArray();
    double[] e = expected.toDoubleArray();
    int worst = -1;
    double worstExcess = 0;
    double maxAbs = 0;
    for (int i = 0; i < a.length; i++) {
      double d = Math.abs(a[i] - e[i]);
      if (Double.isNaN(a[i]) != Double.isNaN(e[i])) {
        d = Double.POSITIVE_INFINITY;
      } else if (Double.isNaN(a[i])) {
        d = 0;
      }
      maxAbs = Math.max(maxAbs, d);
      double excess = d - (atol + rtol * Math.abs(e[i]));
      if (excess > worstExcess) {
        worstExcess = excess;
        worst = i;
      }
    }
    if (worst >= 0) {
      fail(String.format("%s: shape %s, max abs diff %.3g; worst at flat index %d: actual %.8g, expected %.8g "
          + "(atol %.1g, rtol %.1g)", what, Arrays.toString(expected.shape()), maxAbs, worst, a[worst], e[worst],
          atol, rtol));
    }
  }

  /** Bit-for-bit equality of values and shapes. */
  public static void assertIdentical(Tensor actual, Tensor expected, String what) {
    assertClose(actual, expected, 0, 0, what);
  }
}
