package io.graft.zoo.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.backend.ConvAlgorithm;
import io.graft.core.ops.LossOps;
import io.graft.core.random.Rng;
import io.graft.layers.Module;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Training ResNet-18 with Winograd convolutions where the measured rule picks them ({@link ConvAlgorithm#AUTO}) tracks
 * training with direct convolution: 50 SGD steps from the same weights on the same batches. Winograd rounds
 * differently, and training amplifies any difference step by step (measured at this size: under 1e-3 relative for
 * about 20 steps, then up to 5.0e-3 at step 42; the mean over the 50 steps 1.3e-4), so the test asserts the first 10
 * losses and the mean over 50 within 1e-3 relative and every loss within 1e-2. Input 112², batch 4: the 3×3 stride-1 layers run at 28² (layer1) and 14² (layer2), which the rule sends to
 * Winograd, and at 7² and 4² (layer3, layer4), which stay direct.
 */
class ResNetWinogradTest {
  static final int STEPS = 50;
  static final int BATCH = 4;
  /**
   * Plain SGD at a small rate, on fresh random batches: the losses stay near log(10) and each step's update is small,
   * so the two runs drift apart only by the kernels' rounding (a large rate on a fixed batch makes training chaotic,
   * and any rounding difference grows until the losses part by percents).
   */
  static final double LR = 0.0005;

  static double[] train(Module m, ConvAlgorithm algorithm) {
    double[] losses = new double[STEPS];
    Rng rng = new Rng(11);
    try (ConvAlgorithm.Scope s = ConvAlgorithm.use(algorithm)) {
      for (int step = 0; step < STEPS; step++) {
        Tensor x = Tensor.randn(rng, BATCH, 3, 112, 112);
        long[] labels = new long[BATCH];
        for (int i = 0; i < BATCH; i++) {
          labels[i] = rng.nextInt(10);
        }
        m.zeroGrad();
        Tensor loss = LossOps.crossEntropy(m.call(x), Tensor.fromArray(labels, BATCH));
        loss.backward();
        try (GradMode.Scope g = GradMode.disabled()) {
          for (Parameter p : m.parameters()) {
            if (p.gradData() != null) {
              p.data().subi(p.gradData().mul(LR));
            }
          }
        }
        losses[step] = loss.item();
      }
    }
    return losses;
  }

  @Test
  void fiftyStepsWithWinogradTrackDirectConvolution() throws IOException {
    Path cpu = Path.of("/proc/cpuinfo");
    Assumptions.assumeTrue(Files.isReadable(cpu) && Files.readString(cpu).contains(" avx512f"),
        "oneDNN's Winograd kernels need AVX-512");
    Module direct = Zoo.create("resnet18", 10);
    Module wino = Zoo.create("resnet18", 10);
    wino.loadStateDict(direct.stateDict(), true);
    direct.train();
    wino.train();
    double[] d = train(direct, ConvAlgorithm.DIRECT);
    double[] w = train(wino, ConvAlgorithm.AUTO);
    double worst = 0;
    int worstStep = 0;
    double sumD = 0;
    double sumW = 0;
    boolean differ = false;
    for (int i = 0; i < STEPS; i++) {
      double rel = Math.abs(w[i] - d[i]) / Math.abs(d[i]);
      if (rel > worst) {
        worst = rel;
        worstStep = i;
      }
      sumD += d[i];
      sumW += w[i];
      differ |= w[i] != d[i];
    }
    double meanRel = Math.abs(sumW - sumD) / Math.abs(sumD);
    System.out.printf("ResNetWinogradTest: %d steps, mean loss %.5f (direct) %.5f (Winograd), relative %.2e; largest "
        + "per-step relative difference %.2e at step %d; first 10 steps within %.2e%n", STEPS, sumD / STEPS,
        sumW / STEPS, meanRel, worst, worstStep, firstSteps(d, w, 10));
    assertTrue(firstSteps(d, w, 10) <= 1e-3, "the first 10 losses part by more than 1e-3 relative");
    assertTrue(meanRel <= 1e-3, "mean loss over " + STEPS + " steps: relative difference " + meanRel);
    assertTrue(worst <= 1e-2, "step " + worstStep + ": losses part by " + worst + " relative");
    assertTrue(differ, "Winograd rounds differently from direct convolution: identical losses mean it never ran");
  }

  /** The largest relative difference of the first {@code n} losses. */
  static double firstSteps(double[] d, double[] w, int n) {
    double worst = 0;
    for (int i = 0; i < n; i++) {
      worst = Math.max(worst, Math.abs(w[i] - d[i]) / Math.abs(d[i]));
    }
    return worst;
  }
}
