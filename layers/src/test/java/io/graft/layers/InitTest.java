package io.graft.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.random.Rng;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.BatchNorm2d;
import org.junit.jupiter.api.Test;

/** Default initialisation follows PyTorch's bounds and distributions, and is reproducible from a seed. */
class InitTest {
  static double[] minMaxMeanVar(Tensor t) {
    double[] v = t.toDoubleArray();
    double min = Double.MAX_VALUE;
    double max = -Double.MAX_VALUE;
    double s = 0;
    double s2 = 0;
    for (double x : v) {
      min = Math.min(min, x);
      max = Math.max(max, x);
      s += x;
      s2 += x * x;
    }
    double mean = s / v.length;
    return new double[] {min, max, mean, s2 / v.length - mean * mean};
  }

  /** Bounds exactly; mean and variance of U(-b, b) within 5 standard errors for the sample size. */
  static void assertUniform(Tensor t, double bound, String what) {
    double[] st = minMaxMeanVar(t);
    long n = t.numel();
    assertTrue(st[0] >= -bound && st[1] <= bound, what + " within ±" + bound);
    if (n >= 1000) {
      assertTrue(st[0] < -0.99 * bound && st[1] > 0.99 * bound, what + " fills ±" + bound);
    }
    double b2 = bound * bound;
    assertEquals(b2 / 3, st[3], 5 * Math.sqrt(4 * b2 * b2 / 45 / n), what + " variance of U(-b, b)");
    assertEquals(0, st[2], 5 * bound / Math.sqrt(3.0 * n), what + " mean");
  }

  @Test
  void linearIsUniformInOneOverSqrtFanIn() {
    Linear l = new Linear(256, 512);
    assertUniform(l.weight(), 1 / Math.sqrt(256), "Linear.weight");
    assertUniform(l.bias(), 1 / Math.sqrt(256), "Linear.bias");
  }

  @Test
  void convUsesFanInOverReceptiveField() {
    Conv2d c = new Conv2d(32, 64, 3);
    double bound = 1 / Math.sqrt(32 * 9);
    assertUniform(c.weight(), bound, "Conv2d.weight");
    assertUniform(c.bias(), bound, "Conv2d.bias");
    Conv2d g = new Conv2d(32, 64, 3, Conv2d.Options.defaults().withGroups(4));
    assertUniform(g.weight(), 1 / Math.sqrt(8 * 9), "grouped Conv2d.weight");
  }

  @Test
  void batchNormStartsAtOnesAndZeros() {
    BatchNorm2d bn = new BatchNorm2d(4);
    assertArrayEquals(new float[] {1, 1, 1, 1}, bn.weight().toFloatArray());
    assertArrayEquals(new float[] {0, 0, 0, 0}, bn.bias().toFloatArray());
    assertArrayEquals(new float[] {1, 1, 1, 1}, bn.runningVar().toFloatArray());
  }

  @Test
  void kaimingAndXavierFollowTheirFormulas() {
    Rng rng = new Rng(11);
    Tensor w = Tensor.zeros(128, 64, 3, 3);
    Init.kaimingNormal(w, 0, "fan_out", "relu", rng);
    double std = Math.sqrt(2.0 / (128 * 9));
    assertEquals(std * std, minMaxMeanVar(w)[3], 0.03 * std * std);
    Init.kaimingUniform(w, 0, "fan_in", "relu", rng);
    assertUniform(w, Math.sqrt(6.0 / (64 * 9)), "kaiming_uniform");
    Tensor x = Tensor.zeros(300, 200);
    Init.xavierUniform(x, 1.0, rng);
    assertUniform(x, Math.sqrt(6.0 / 500), "xavier_uniform");
    Init.xavierNormal(x, 2.0, rng);
    assertEquals(4 * 2.0 / 500, minMaxMeanVar(x)[3], 0.03 * 4 * 2.0 / 500);
    Init.constant(x, 0.5);
    assertEquals(0.5, minMaxMeanVar(x)[0]);
    assertEquals(0.5, minMaxMeanVar(x)[1]);
  }

  @Test
  void seededInitialisationIsReproducible() {
    Init.manualSeed(42);
    Linear a = new Linear(8, 4);
    Init.manualSeed(42);
    Linear b = new Linear(8, 4);
    assertArrayEquals(a.weight().toFloatArray(), b.weight().toFloatArray());
    assertArrayEquals(new Linear(8, 4, true, new Rng(3)).weight().toFloatArray(),
        new Linear(8, 4, true, new Rng(3)).weight().toFloatArray());
  }
}
