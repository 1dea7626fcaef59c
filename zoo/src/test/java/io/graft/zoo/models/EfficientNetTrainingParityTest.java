package io.graft.zoo.models;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.core.ops.LossOps;
import io.graft.testing.Fixtures;
import io.graft.zoo.weights.TorchPth;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * One training step of EfficientNet-B0 against torchvision ({@code tools/fixtures/train_conv.py}): train mode,
 * stochastic depth and dropout at 0 (torchvision's {@code stochastic_depth_prob} and the classifier's dropout), the
 * weights of {@code efficientnet_b0.pth}, batch 2 at 64×64, cross-entropy. The loss, every parameter's gradient norm,
 * the full gradients of the head, the stem, the first MBConv block and one squeeze-excitation, and BatchNorm running
 * statistics after the forward match PyTorch.
 *
 * <p>The project BatchNorms' biases ({@code features.S.B.block.3.1.bias}) have a gradient of exactly 0 in exact
 * arithmetic (the next convolution feeds a train-mode BatchNorm, which subtracts any per-channel shift), so PyTorch's
 * own float32 values there are rounding noise of norm ~1e-5: those norms are checked against 0 with an absolute bound.
 */
class EfficientNetTrainingParityTest {
  /** Relative bound on a gradient norm; PyTorch's float32 norms are within 5e-5 of its float64 ones. */
  static final double NORM_RTOL = 1e-3;
  /** Absolute bound on the norm of a gradient that is 0 in exact arithmetic (PyTorch float32: up to 2e-5). */
  static final double ZERO_ATOL = 1e-3;

  @Test
  void oneTrainingStepMatchesPyTorch() {
    Safetensors.File f = Fixtures.load("fixtures/zoo/efficientnet_b0.train.safetensors");
    EfficientNet m = new EfficientNet(1.0, 1.0, 0.0, 0.0, 10);
    m.loadStateDict(TorchPth.read(ZooParityTest.resource("efficientnet_b0.pth")), true);
    m.train();
    Tensor loss = LossOps.crossEntropy(m.call(ZooParityTest.X), Tensor.fromArray(new long[] {3, 7}, 2));
    double torchLoss = f.tensor("loss").item();
    double lossDiff = Math.abs(loss.item() - torchLoss);
    assertTrue(lossDiff <= 1e-5 * Math.max(1, Math.abs(torchLoss)), "loss " + loss.item() + " vs " + torchLoss);
    loss.backward();

    Map<String, Parameter> params = m.namedParameters();
    double worst = 0;
    String worstName = "";
    int norms = 0;
    int zeros = 0;
    int full = 0;
    for (Safetensors.Entry e : f.entries()) {
      String key = e.name();
      if (key.startsWith("norm:")) {
        String name = key.substring(5);
        Tensor g = params.get(name).grad();
        assertNotNull(g, "no gradient for " + name);
        double norm = Math.sqrt(g.to(DataType.DOUBLE).pow(2).sum().item());
        double ref = f.tensor(key).item();
        double ref64 = f.tensor("norm64:" + name).item();
        if (ref64 < 1e-10) {
          assertTrue(norm <= ZERO_ATOL, name + ": gradient norm " + norm + " where the exact gradient is 0");
          zeros++;
        } else {
          double rel = Math.abs(norm - ref) / ref;
          if (rel > worst) {
            worst = rel;
            worstName = name;
          }
          assertTrue(rel <= NORM_RTOL, name + ": gradient norm " + norm + " vs PyTorch's " + ref);
          norms++;
        }
      } else if (key.startsWith("grad:")) {
        String name = key.substring(5);
        Tensor ref = f.tensor(key);
        double scale = Math.sqrt(ref.to(DataType.DOUBLE).pow(2).sum().item() / Math.max(1, ref.numel()));
        boolean exactZero = f.tensor("norm64:" + name).item() < 1e-10;
        assertClose(params.get(name).grad(), ref, exactZero ? ZERO_ATOL : 1e-3 * scale, 1e-3, "gradient of " + name);
        full++;
      } else if (key.startsWith("after:")) {
        String name = key.substring(6);
        assertClose(m.namedBuffers().get(name), f.tensor(key), 1e-5, 1e-5, name + " after the forward");
      }
    }
    System.out.printf("efficientnet_b0 train step: |loss - torch| %.2e, max relative gradient-norm difference %.2e "
        + "(%s), %d norms, %d exact zeros, %d full gradients%n", lossDiff, worst, worstName, norms, zeros, full);
    assertEquals(params.size(), norms + zeros, "every parameter's gradient norm is checked");
    assertEquals(19, full);
  }
}
