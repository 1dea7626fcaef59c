package io.graft.core.backend;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.ops.ConvOps;
import io.graft.core.random.Rng;
import java.io.BufferedReader;
import java.io.StringReader;
import org.junit.jupiter.api.Test;

/** Which convolutions run Winograd ({@link ConvAlgorithm}), and that they compute what direct convolution does. */
class ConvAlgorithmTest {
  static final int[] ONE = {1, 1};

  static Conv2dGeometry geometry(int c, int size, int k, int stride) {
    Tensor x = Tensor.zeros(1, c, size, size);
    Tensor w = Tensor.zeros(c, c, k, k);
    return Conv2dGeometry.check(x, w, null, new int[] {stride, stride}, new int[] {k / 2, k / 2}, ONE, 1);
  }

  @Test
  void theShippedTableSendsTrainingConvolutionsAt56And28And14ToWinogradAndKeepsDirectAt7AndInInference() {
    try (ConvAlgorithm.Scope s = ConvAlgorithm.use(ConvAlgorithm.AUTO)) {
      for (int size : new int[] {56, 28, 14, 16}) {
        assertTrue(ConvAlgorithm.winograd(geometry(64, size, 3, 1), size, size, true), size + "x" + size);
        assertFalse(ConvAlgorithm.winograd(geometry(64, size, 3, 1), size, size, false), "inference at " + size);
      }
      for (int size : new int[] {7, 8, 4, 1}) {
        assertFalse(ConvAlgorithm.winograd(geometry(64, size, 3, 1), size, size, true), size + "x" + size);
      }
      assertFalse(ConvAlgorithm.winograd(geometry(64, 56, 3, 2), 28, 28, true), "stride 2");
      assertFalse(ConvAlgorithm.winograd(geometry(64, 56, 1, 1), 56, 56, true), "1x1");
    }
    try (ConvAlgorithm.Scope s = ConvAlgorithm.use(ConvAlgorithm.DIRECT)) {
      assertFalse(ConvAlgorithm.winograd(geometry(64, 56, 3, 1), 56, 56, true));
      try (ConvAlgorithm.Scope inner = ConvAlgorithm.use(ConvAlgorithm.WINOGRAD)) {
        assertTrue(ConvAlgorithm.winograd(geometry(64, 7, 3, 1), 7, 7, true), "forced, at 7x7");
        assertFalse(ConvAlgorithm.winograd(geometry(64, 7, 3, 1), 7, 7, false), "forced, inference");
      }
      assertEquals(ConvAlgorithm.DIRECT, ConvAlgorithm.current(), "the inner scope restores the outer setting");
    }
  }

  @Test
  void aTableRowDecidesOnThePassesMeasuredForBoth() throws Exception {
    var rows = ConvAlgorithm.parseTable(new BufferedReader(new StringReader(
        "# comment\n10\t10\t8\t1\t1.0\t1.0\t-\t0.5\t2.0\t0.1\n20\t20\t8\t1\t1\t1\t1\t0.5\t0.5\t0.5\n")), "t");
    // direct 1.0 + 1.0 against Winograd 0.5 + 2.0 over forward and backward-data (backward-weights has no direct time)
    assertFalse(rows.get(0).winogradFaster());
    assertTrue(rows.get(1).winogradFaster());
    GraftException bad = assertThrows(GraftException.class, () -> ConvAlgorithm.parseTable(
        new BufferedReader(new StringReader("1 2 3\n")), "mine.tsv"));
    assertTrue(bad.getMessage().contains("mine.tsv:1"), bad.getMessage());
    GraftException option = assertThrows(GraftException.class, () -> ConvAlgorithm.parse("fast", "-Dx"));
    assertTrue(option.getMessage().contains("auto, direct, winograd"), option.getMessage());
  }

  /** {y, dx, dw} of a 3x3 stride-1 training convolution under {@code algorithm}. */
  static Tensor[] run(ConvAlgorithm algorithm, Tensor x, Tensor w, Tensor g) {
    try (ConvAlgorithm.Scope s = ConvAlgorithm.use(algorithm)) {
      Tensor xi = x.detach().requiresGrad(true);
      Tensor wi = w.detach().requiresGrad(true);
      Tensor y = ConvOps.conv2d(xi, wi, null, ONE, ONE, ONE, 1);
      y.backward(g);
      return new Tensor[] {y, xi.grad(), wi.grad()};
    }
  }

  static boolean avx512() throws java.io.IOException {
    java.nio.file.Path p = java.nio.file.Path.of("/proc/cpuinfo");
    return java.nio.file.Files.isReadable(p) && java.nio.file.Files.readString(p).contains(" avx512f");
  }

  @Test
  void winogradRunsOnlyForTrainingAndComputesWhatDirectDoes() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(OneDnnKernels.available() && avx512(),
        "oneDNN's Winograd kernels need AVX-512");
    Rng rng = new Rng(5);
    Tensor x = Tensor.randn(rng, 2, 32, 14, 14);
    Tensor w = Tensor.randn(rng, 32, 32, 3, 3).mul(0.1);
    Tensor g = Tensor.randn(rng, 2, 32, 14, 14);
    Conv2dGeometry geo = Conv2dGeometry.check(x, w, null, ONE, ONE, ONE, 1);
    try (ConvAlgorithm.Scope s = ConvAlgorithm.use(ConvAlgorithm.WINOGRAD)) {
      assertTrue(OneDnnConv.supports(x.shape(), geo, false, true));
      String training = OneDnnConv.implementation(x.shape(), geo, false, true);
      String inference = OneDnnConv.implementation(x.shape(), geo, false, false);
      assertTrue(training.contains("wino"), "training: " + training);
      assertFalse(inference.contains("wino"), "inference: " + inference);
    }
    Tensor[] direct = run(ConvAlgorithm.DIRECT, x, w, g);
    Tensor[] wino = run(ConvAlgorithm.WINOGRAD, x, w, g);
    String[] names = {"y", "dx", "dw"};
    for (int i = 0; i < 3; i++) {
      assertClose(wino[i], direct[i], 1e-3, 1e-3, names[i]);
      assertFalse(java.util.Arrays.equals(wino[i].toFloatArray(), direct[i].toFloatArray()),
          names[i] + ": Winograd rounds differently from direct convolution; equal values mean it did not run");
    }
  }

  /**
   * 1,000 training steps (forward, backward-data, backward-weights) of every 3x3 stride-1 shape of ResNet-18 at 224²,
   * batch 8, with Winograd forced, including 7x7 where the automatic rule keeps direct: a standalone trial with a
   * library-managed scratchpad crashed backward-weights at 14x14 and 7x7. Long (minutes): tagged {@code stress},
   * which the suite excludes (not skips); run it with {@code -Dgraft.test.excludedGroups= -Dgroups=stress}.
   */
  @Test
  @org.junit.jupiter.api.Tag("stress")
  void winogradSurvivesAThousandStepsOfEveryResNetShape() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(OneDnnKernels.available() && avx512());
    int steps = Integer.getInteger("graft.stress.steps", 1000);
    int[][] shapes = {{64, 56}, {128, 28}, {256, 14}, {512, 7}};
    for (int[] sh : shapes) {
      Rng rng = new Rng(sh[0]);
      Tensor x = Tensor.randn(rng, 8, sh[0], sh[1], sh[1]);
      Tensor w = Tensor.randn(rng, sh[0], sh[0], 3, 3).mul(0.05);
      Tensor g = Tensor.randn(rng, 8, sh[0], sh[1], sh[1]);
      Tensor[] direct = run(ConvAlgorithm.DIRECT, x, w, g);
      long t0 = System.nanoTime();
      for (int i = 0; i < steps; i++) {
        Tensor[] r = run(ConvAlgorithm.WINOGRAD, x, w, g);
        if (i == 0 || i == steps - 1) {
          for (int k = 0; k < 3; k++) {
            assertClose(r[k], direct[k], 1e-3, 1e-3, sh[0] + "x" + sh[1] + " step " + i + " output " + k);
          }
        }
      }
      System.out.printf("ConvAlgorithmTest stress: %d x %dx%d, batch 8: %d Winograd steps (fwd, bwd-data, "
          + "bwd-weights), %.1f ms each%n", sh[0], sh[1], sh[1], steps, (System.nanoTime() - t0) / 1e6 / steps);
    }
  }

  @Test
  void aGradientWrittenIntoTheBufferKeptFromTheLastStepEqualsAFreshOne() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(OneDnnKernels.available());
    Rng rng = new Rng(9);
    Tensor x = Tensor.randn(rng, 2, 32, 14, 14);
    Tensor w = Tensor.randn(rng, 32, 32, 3, 3).mul(0.1);
    Tensor g = Tensor.randn(rng, 2, 32, 14, 14);
    for (ConvAlgorithm a : ConvAlgorithm.values()) {
      try (ConvAlgorithm.Scope s = ConvAlgorithm.use(a)) {
        Tensor fresh = run(a, x, w, g)[2];
        Tensor wi = w.detach().requiresGrad(true);
        Tensor g2 = g.mul(3.0);
        ConvOps.conv2d(x, wi, null, ONE, ONE, ONE, 1).backward(g2);
        org.nd4j.linalg.api.ndarray.INDArray kept = wi.gradData();
        wi.clearGrad();
        ConvOps.conv2d(x, wi, null, ONE, ONE, ONE, 1).backward(g);
        assertTrue(kept == wi.gradData(), a + ": the second gradient lands in the first one's memory");
        assertClose(wi.grad(), fresh, 1e-5, 1e-5, a + ": gradient written into the kept buffer");
      }
    }
  }
}
