package io.graft.core;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.autograd.GradMode;
import io.graft.core.ops.ConvOps;
import io.graft.core.ops.LinalgOps;
import io.graft.core.ops.LossOps;
import io.graft.core.ops.NormOps;
import io.graft.core.ops.PoolOps;
import io.graft.core.random.Rng;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/** Native memory of freed graphs is released: a long training run stays flat. */
class MemoryTest {
  static final int[] ONE = {1, 1};

  @Test
  void thousandTrainingStepsKeepOffHeapMemoryFlat() throws InterruptedException {
    Rng rng = new Rng(7);
    Parameter w1 = new Parameter(Tensor.randn(rng, 8, 1, 3, 3).mul(0.3).data());
    Parameter b1 = new Parameter(Tensor.zeros(8).data());
    Parameter gamma = new Parameter(Tensor.ones(8).data());
    Parameter beta = new Parameter(Tensor.zeros(8).data());
    Tensor runningMean = Tensor.zeros(8);
    Tensor runningVar = Tensor.ones(8);
    Parameter w2 = new Parameter(Tensor.randn(rng, 3, 8 * 6 * 6).mul(0.05).data());
    Parameter b2 = new Parameter(Tensor.zeros(3).data());
    List<Parameter> params = List.of(w1, b1, gamma, beta, w2, b2);
    Tensor x = Tensor.randn(rng, 16, 1, 12, 12);
    long[] labels = new long[16];
    for (int i = 0; i < 16; i++) {
      labels[i] = i % 3;
    }
    Tensor y = Tensor.fromArray(labels, 16);

    long[] samples = new long[6];
    double firstLoss = 0;
    double lastLoss = 0;
    for (int step = 0; step < 1000; step++) {
      Tensor h = ConvOps.conv2d(x, w1, b1, ONE, ONE, ONE, 1);
      h = NormOps.batchNorm(h, runningMean, runningVar, gamma, beta, true, 0.1, 1e-5).relu();
      h = PoolOps.maxPool2d(h, new int[] {2, 2}, new int[] {2, 2}, new int[] {0, 0}, ONE).flatten(1, -1);
      Tensor loss = LossOps.crossEntropy(LinalgOps.linear(h, w2, b2), y);
      loss.backward();
      try (var g = GradMode.disabled()) {
        for (Parameter p : params) {
          p.data().subi(p.grad().data().mul(0.05));
          p.setGrad(null);
        }
      }
      if (step == 0) {
        firstLoss = loss.item();
      }
      lastLoss = loss.item();
      if (step % 200 == 199) {
        samples[step / 200 + 1] = settledBytes();
      }
    }
    System.out.printf("MemoryTest: off-heap resident MiB at steps 200..1000: %.1f %.1f %.1f %.1f %.1f;"
        + " loss %.4f -> %.4f%n", mib(samples[1]), mib(samples[2]), mib(samples[3]), mib(samples[4]),
        mib(samples[5]), firstLoss, lastLoss);
    assertTrue(lastLoss < firstLoss, "the network should learn: " + firstLoss + " -> " + lastLoss);
    // Each step allocates about 1 MiB of activations and gradients: a leak would add ~400 MiB between step 400
    // and step 800, and ~600 MiB by step 1000. The measure (RSS minus committed heap) moves by ±100 MiB as the
    // heap resizes, so the lower of the two late samples is compared with the higher of the two early ones: any
    // real leak still shows, the noise does not.
    long growth = Math.min(samples[4], samples[5]) - Math.max(samples[1], samples[2]);
    assertTrue(growth < (32L << 20), "off-heap memory grew by " + mib(growth) + " MiB between steps 200-400 and "
        + "800-1000");
  }

  static double mib(long b) {
    return b / 1048576.0;
  }

  /**
   * Resident memory outside the Java heap (RSS minus committed heap) once garbage collection has run ND4J's
   * deallocators. ND4J's CPU buffers are not counted by JavaCPP's {@code Pointer.totalBytes()}, so the
   * process's resident set is the honest measure.
   */
  static long settledBytes() throws InterruptedException {
    long best = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(50);
      best = Math.min(best, Pointer.physicalBytes() - Runtime.getRuntime().totalMemory());
    }
    return best;
  }
}
