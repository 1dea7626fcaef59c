package io.graft.zoo.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.core.ops.LossOps;
import io.graft.testing.Fixtures;
import io.graft.zoo.weights.TorchPth;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * One training step of {@code vit_b_32} (64² input, batch 2, dropout 0) against PyTorch ({@code
 * tools/fixtures/train_vit.py}): the cross-entropy loss, every parameter's gradient norm, the full gradients of the
 * head, class token and every vector parameter, and for the matrices of the first block and the attention projections
 * of every block their row and column sums (and, for the first block, every 61st entry).
 */
class VitTrainingStepTest {
  /** Gradients agree to this fraction of their largest magnitude (float32 through 12 blocks). */
  static final double REL = 2e-4;

  @Test
  void oneStepMatchesPyTorch() throws Exception {
    Safetensors.File f = Fixtures.load("fixtures/zoo/train/vit_b_32_64px.step.safetensors");
    VisionTransformer m = VisionTransformer.vitB32(10, 64);
    m.loadStateDict(TorchPth.read(Paths.get(VitTrainingStepTest.class.getResource(
        "/fixtures/zoo/train/vit_b_32_64px.pth").toURI())), true);
    m.train();
    Tensor loss = LossOps.crossEntropy(m.call(f.tensor("x")), f.tensor("targets"));
    loss.backward();
    double torchLoss = f.tensor("loss").item();
    System.out.printf("vit_b_32 step: loss graft %.7f torch %.7f diff %.2e%n", loss.item(), torchLoss,
        Math.abs(loss.item() - torchLoss));
    assertEquals(torchLoss, loss.item(), 1e-5 * Math.max(1, Math.abs(torchLoss)), "loss");

    List<String> keys = Arrays.asList(f.metadata().get("keys").split(","));
    assertEquals(keys, new ArrayList<>(m.namedParameters().keySet()), "parameter order");
    double[] norms = f.tensor("grad_norms").toDoubleArray();
    double worstNorm = 0;
    String worstKey = "";
    int i = 0;
    for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
      double n = norm(e.getValue().grad().toDoubleArray());
      double rel = Math.abs(n - norms[i]) / Math.max(norms[i], 1e-12);
      if (rel > worstNorm) {
        worstNorm = rel;
        worstKey = e.getKey();
      }
      i++;
    }
    System.out.printf("vit_b_32 step: max relative grad-norm diff %.2e (%s)%n", worstNorm, worstKey);
    assertTrue(worstNorm < REL, "gradient norm of " + worstKey + " differs by " + worstNorm);

    int checked = 0;
    double worst = 0;
    for (Safetensors.Entry e : f.entries()) {
      String name = e.name();
      int slash = name.indexOf('/');
      if (slash < 0) {
        continue;
      }
      String kind = name.substring(0, slash);
      String key = name.substring(slash + 1);
      Tensor g = m.namedParameters().get(key).grad();
      Tensor mine = switch (kind) {
        case "full" -> g;
        case "rows" -> g.sum(false, 1);
        case "cols" -> g.sum(false, 0);
        case "sample" -> g.reshape(-1).slice(0, 0, g.numel(), Long.parseLong(f.metadata().get("stride")));
        default -> throw new IllegalStateException(name);
      };
      double[] expected = f.tensor(name).toDoubleArray();
      double[] actual = mine.toDoubleArray();
      assertEquals(expected.length, actual.length, name);
      double scale = 0;
      double diff = 0;
      for (int k = 0; k < expected.length; k++) {
        scale = Math.max(scale, Math.abs(expected[k]));
        diff = Math.max(diff, Math.abs(expected[k] - actual[k]));
      }
      // row and column sums cancel: their rounding error follows the gradient's norm, not the sums' own size
      scale = Math.max(scale, kind.equals("rows") || kind.equals("cols") ? norms[keys.indexOf(key)] : 0);
      worst = Math.max(worst, diff / Math.max(scale, 1e-12));
      assertTrue(diff <= REL * scale, name + ": max diff " + diff + " vs scale " + scale);
      checked++;
    }
    System.out.printf("vit_b_32 step: %d gradient checks, max diff / max|grad| %.2e%n", checked, worst);
    assertTrue(checked > 100, "the fixture holds the gradients");
  }

  static double norm(double[] v) {
    double s = 0;
    for (double x : v) {
      s += x * x;
    }
    return Math.sqrt(s);
  }
}
