package io.graft.zoo.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.Safetensors;
import io.graft.layers.Module;
import io.graft.testing.Fixtures;
import io.graft.zoo.weights.TorchPth;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Eval-mode logits of every architecture from torchvision-written weights ({@code tools/fixtures/zoo.py}: strided
 * views into shared storages, calibrated BatchNorm statistics) against torchvision's logits; the legacy format
 * and a safetensors round trip give the same result.
 */
class ZooParityTest {
  /** The bound, met by every model whose float32 logits PyTorch itself gets right to ~2e-5. */
  static final double ATOL = 1e-4;
  /**
   * Deep random-weight nets amplify float32 rounding: PyTorch's own float32 logits differ from its float64 logits
   * by up to 5e-4 (ResNet-152) and 3e-2 (plain VGG-11, logits ~4e3). Graft must be as accurate as PyTorch: its
   * error against the float64 reference may not exceed {@code max(ATOL, FACTOR x PyTorch's float32 error)}.
   */
  static final double FACTOR = 3;
  static final Tensor X = Fixtures.load("fixtures/zoo/input.safetensors").tensor("x");

  @TempDir
  Path tmp;

  static Path resource(String name) {
    try {
      return Paths.get(ZooParityTest.class.getResource("/fixtures/zoo/" + name).toURI());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static void check(String name, StateDict weights, String what) {
    Module m = Zoo.create(name, 10);
    m.loadStateDict(weights, true);
    m.eval();
    Tensor logits;
    try (var g = GradMode.disabled()) {
      logits = m.call(X);
    }
    Safetensors.File f = Fixtures.load("fixtures/zoo/" + name + ".logits.safetensors");
    double[] torch32 = f.tensor("logits").toDoubleArray();
    double[] ref64 = f.tensor("logits64").toDoubleArray();
    double[] graft = logits.toDoubleArray();
    double torchErr = 0;
    double graftErr = 0;
    double vsTorch = 0;
    for (int i = 0; i < ref64.length; i++) {
      torchErr = Math.max(torchErr, Math.abs(torch32[i] - ref64[i]));
      graftErr = Math.max(graftErr, Math.abs(graft[i] - ref64[i]));
      vsTorch = Math.max(vsTorch, Math.abs(graft[i] - torch32[i]));
    }
    double bound = Math.max(ATOL, FACTOR * torchErr);
    System.out.printf("%-13s %-28s max|graft-torch32| %.2e  max|graft-ref64| %.2e  max|torch32-ref64| %.2e%n",
        name, what, vsTorch, graftErr, torchErr);
    assertArrayEquals(new long[] {2, 10}, logits.shape(), name);
    assertTrue(graftErr <= bound, String.format("%s (%s): Graft's logits are off the float64 reference by %.3g, "
        + "PyTorch's float32 logits by %.3g (bound %.3g)", name, what, graftErr, torchErr, bound));
    assertTrue(vsTorch <= bound + torchErr, name + " vs PyTorch float32: " + vsTorch);
  }

  @TestFactory
  Stream<DynamicTest> logitsFromPth() {
    return Zoo.names().stream().filter(n -> !n.equals("smallcnn")).map(n -> DynamicTest.dynamicTest(n,
        () -> check(n, TorchPth.read(resource(n + ".pth")), "zip .pth")));
  }

  @TestFactory
  Stream<DynamicTest> logitsFromLegacyPthAndSafetensors() {
    return List.of("resnet18", "mobilenet_v2").stream().map(n -> DynamicTest.dynamicTest(n, () -> {
      check(n, TorchPth.read(resource(n + "_legacy.pth")), "legacy .pth");
      Path st = tmp.resolve(n + ".safetensors");
      Safetensors.write(st, TorchPth.read(resource(n + ".pth")), java.util.Map.of("source", n + ".pth"));
      check(n, Safetensors.read(st), "safetensors written by Graft");
    }));
  }
}
