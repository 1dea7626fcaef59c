package io.graft.core.ops;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Tensor;
import org.junit.jupiter.api.Test;

/**
 * NaN and infinities propagate as in PyTorch. (ND4J's scalar ops replace a NaN scalar by 1e-5; Graft routes NaN
 * scalars around them.)
 */
class NonFiniteTest {
  static void allNaN(Tensor t, String what) {
    for (double v : t.toDoubleArray()) {
      assertTrue(Double.isNaN(v), what + ": " + t);
    }
  }

  @Test
  void nanScalarsPropagate() {
    Tensor x = Tensor.fromArray(new float[] {1, 2, 3}, 3).requiresGrad(true);
    allNaN(x.mul(Double.NaN), "x * NaN");
    allNaN(x.add(Double.NaN), "x + NaN");
    allNaN(x.sub(Double.NaN), "x - NaN");
    allNaN(x.div(Double.NaN), "x / NaN");
    x.mul(Double.NaN).sum().backward();
    allNaN(x.grad(), "d(x * NaN)/dx");
    Tensor inf = x.detach().mul(Double.POSITIVE_INFINITY);
    for (double v : inf.toDoubleArray()) {
      assertTrue(v == Double.POSITIVE_INFINITY);
    }
    allNaN(Tensor.fromArray(new float[] {0f}, 1).mul(Double.POSITIVE_INFINITY), "0 * inf");
  }
}
