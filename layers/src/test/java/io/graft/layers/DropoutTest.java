package io.graft.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import org.junit.jupiter.api.Test;

/**
 * Dropout in training mode cannot match PyTorch mask for mask (different generators), so its contract is checked
 * statistically: the drop rate is p and kept elements are scaled by 1/(1-p), with the same mask in the gradient.
 */
class DropoutTest {
  @Test
  void trainingDropsAboutPAndScalesTheRest() {
    int n = 200_000;
    double p = 0.3;
    Dropout d = new Dropout(p, new Rng(11));
    d.train();
    Tensor x = Tensor.full(2.0, n).requiresGrad(true);
    Tensor y = d.call(x);
    y.sum().backward();
    float[] out = y.toFloatArray();
    float[] grad = x.grad().toFloatArray();
    float kept = (float) (2.0 / (1 - p));
    int zeros = 0;
    for (int i = 0; i < n; i++) {
      if (out[i] == 0f) {
        zeros++;
        assertEquals(0f, grad[i], "a dropped element passes no gradient");
      } else {
        assertEquals(kept, out[i], 1e-6f, "kept elements are scaled by 1/(1-p)");
        assertEquals(kept / 2f, grad[i], 1e-6f, "gradient of a kept element is 1/(1-p)");
      }
    }
    // binomial(n, p): standard deviation sqrt(n p (1-p)) ~ 205; allow 5 of them
    double sd = Math.sqrt(n * p * (1 - p));
    assertEquals(n * p, zeros, 5 * sd, "dropped " + zeros + " of " + n);
  }

  @Test
  void masksDifferBetweenCallsAndRepeatWithTheSeed() {
    Tensor x = Tensor.ones(1000);
    Dropout a = new Dropout(0.5, new Rng(3));
    Dropout b = new Dropout(0.5, new Rng(3));
    float[] a1 = a.call(x).toFloatArray();
    float[] a2 = a.call(x).toFloatArray();
    assertArrayEquals(a1, b.call(x).toFloatArray(), "same seed, same mask");
    assertFalse(java.util.Arrays.equals(a1, a2), "a new mask on every call");
  }

  @Test
  void evalModeAndPZeroAreTheIdentityAndPOneDropsEverything() {
    Tensor x = Tensor.full(3.0, 10);
    Dropout d = new Dropout(0.9, new Rng(1));
    d.eval();
    assertArrayEquals(x.toFloatArray(), d.call(x).toFloatArray());
    Dropout none = new Dropout(0.0, new Rng(1));
    assertArrayEquals(x.toFloatArray(), none.call(x).toFloatArray());
    Dropout all = new Dropout(1.0, new Rng(1));
    for (float v : all.call(x).toFloatArray()) {
      assertEquals(0f, v);
    }
    assertTrue(new Dropout().isTraining(), "modules start in training mode, like PyTorch");
  }
}
