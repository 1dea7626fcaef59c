package io.graft.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import org.junit.jupiter.api.Test;

/**
 * Stochastic depth cannot match torchvision draw for draw (different generators), so its contract is checked: whole
 * rows (or the whole batch) are dropped, survivors scaled by 1/(1-p), the gradient carries the same mask, and eval
 * mode is the identity.
 */
class StochasticDepthTest {
  static Tensor input(int rows, int cols) {
    float[] v = new float[rows * cols];
    for (int i = 0; i < v.length; i++) {
      v[i] = 1 + i % 7;
    }
    return Tensor.of(org.nd4j.linalg.factory.Nd4j.create(v, new long[] {rows, cols}, 'c')).requiresGrad(true);
  }

  @Test
  void rowModeDropsWholeSamplesAndScalesTheRest() {
    int rows = 400;
    int cols = 3;
    double p = 0.25;
    StochasticDepth sd = new StochasticDepth(p, "row", new Rng(5));
    sd.train();
    Tensor x = input(rows, cols);
    Tensor y = sd.call(x);
    y.sum().backward();
    float[] in = x.toFloatArray();
    float[] out = y.toFloatArray();
    float[] grad = x.grad().toFloatArray();
    int dropped = 0;
    for (int r = 0; r < rows; r++) {
      boolean rowDropped = out[r * cols] == 0f;
      dropped += rowDropped ? 1 : 0;
      for (int c = 0; c < cols; c++) {
        int i = r * cols + c;
        float scale = rowDropped ? 0f : (float) (1 / (1 - p));
        assertEquals(in[i] * scale, out[i], 1e-5f, "row " + r + " is dropped or kept as a whole");
        assertEquals(scale, grad[i], 1e-6f, "the gradient carries the row's mask");
      }
    }
    // binomial(400, 0.25): mean 100, standard deviation ~8.7; allow 5 of them
    assertTrue(Math.abs(dropped - rows * p) < 5 * Math.sqrt(rows * p * (1 - p)), "dropped " + dropped + " rows");
  }

  @Test
  void batchModeDropsAllOrNothing() {
    int allDropped = 0;
    Rng rng = new Rng(9);
    for (int t = 0; t < 200; t++) {
      StochasticDepth sd = new StochasticDepth(0.5, "batch", rng);
      sd.train();
      Tensor x = input(4, 5);
      float[] out = sd.call(x).toFloatArray();
      float[] in = x.toFloatArray();
      boolean zero = out[0] == 0f;
      allDropped += zero ? 1 : 0;
      for (int i = 0; i < out.length; i++) {
        assertEquals(zero ? 0f : 2 * in[i], out[i], 1e-6f);
      }
    }
    assertTrue(allDropped > 50 && allDropped < 150, "batch mode dropped " + allDropped + " of 200 batches");
  }

  @Test
  void evalAndZeroProbabilityAreTheIdentityAndOneDropsEverything() {
    Tensor x = input(3, 2);
    StochasticDepth sd = new StochasticDepth(0.9, "row");
    sd.eval();
    assertSame(x, sd.call(x));
    StochasticDepth none = new StochasticDepth(0.0, "row");
    none.train();
    assertSame(x, none.call(x));
    StochasticDepth all = new StochasticDepth(1.0, "row");
    all.train();
    assertArrayEquals(new float[6], all.call(x).toFloatArray(), "p = 1 zeroes every row (torchvision: no division)");
    assertEquals("StochasticDepth(p=0.9, mode=row)", sd.toString().trim());
  }

  @Test
  void badArgumentsAreRefused() {
    assertTrue(assertThrows(GraftException.class, () -> new StochasticDepth(1.5, "row")).getMessage().contains("1.5"));
    assertTrue(assertThrows(GraftException.class, () -> new StochasticDepth(0.1, "col")).getMessage().contains("col"));
  }
}
