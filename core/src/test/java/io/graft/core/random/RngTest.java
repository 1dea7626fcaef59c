package io.graft.core.random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class RngTest {
  @Test
  void sameSeedSameStream() {
    Rng a = new Rng(42);
    Rng b = new Rng(42);
    for (int i = 0; i < 100; i++) {
      assertEquals(a.nextLong(), b.nextLong());
      assertEquals(a.nextGaussian(), b.nextGaussian());
    }
    assertNotEquals(new Rng(1).nextLong(), new Rng(2).nextLong());
  }

  @Test
  void restoredStateContinuesExactly() {
    Rng a = new Rng(9);
    a.nextGaussian();  // leaves a cached spare
    Rng.State s = a.state();
    double[] expected = {a.nextGaussian(), a.nextDouble(), a.nextInt(10)};
    Rng b = new Rng(0);
    b.restore(s);
    assertEquals(Arrays.toString(expected), Arrays.toString(new double[] {b.nextGaussian(), b.nextDouble(),
        b.nextInt(10)}));
  }

  @Test
  void gaussianAndUniformMoments() {
    Rng r = new Rng(3);
    int n = 200_000;
    double s = 0;
    double s2 = 0;
    double u = 0;
    for (int i = 0; i < n; i++) {
      double g = r.nextGaussian();
      s += g;
      s2 += g * g;
      u += r.nextDouble();
    }
    assertEquals(0, s / n, 0.01);
    assertEquals(1, s2 / n, 0.01);
    assertEquals(0.5, u / n, 0.005);
  }

  @Test
  void permutationIsAPermutation() {
    int[] p = new Rng(5).permutation(1000);
    int[] sorted = p.clone();
    Arrays.sort(sorted);
    for (int i = 0; i < 1000; i++) {
      assertEquals(i, sorted[i]);
    }
    assertTrue(p[0] != 0 || p[1] != 1 || p[2] != 2);
  }
}
