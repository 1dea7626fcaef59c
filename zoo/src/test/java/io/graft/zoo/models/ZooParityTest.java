package io.graft.zoo.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Eval-mode logits of every architecture from torchvision-written weights ({@code tools/fixtures/zoo.py}: strided
 * views into shared storages, calibrated BatchNorm statistics, logits of order 1) against torchvision's float32
 * logits, within the 1e-4; the legacy format and a safetensors round trip load bit-identical weights.
 */
class ZooParityTest {
  static final double ATOL = 1e-4;
  static final Tensor X = Fixtures.load("fixtures/zoo/input.safetensors").tensor("x");

  /** The input for {@code name}: X, or for a fixed input size of 224² (the ViTs) {@code input_224.safetensors}' x. */
  static Tensor input(String name) {
    return Zoo.inputShape(name)[1] == 224 ? Fixtures.load("fixtures/zoo/input_224.safetensors").tensor("x") : X;
  }

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
      logits = m.call(input(name));
    }
    Safetensors.File f = Fixtures.load("fixtures/zoo/" + name + ".logits.safetensors");
    double[] torch32 = f.tensor("logits").toDoubleArray();
    double[] ref64 = f.tensor("logits64").toDoubleArray();
    double[] graft = logits.toDoubleArray();
    double vsTorch = 0;
    double vs64 = 0;
    for (int i = 0; i < ref64.length; i++) {
      vsTorch = Math.max(vsTorch, Math.abs(graft[i] - torch32[i]));
      vs64 = Math.max(vs64, Math.abs(graft[i] - ref64[i]));
    }
    System.out.printf("%-13s %-12s max|graft-torch32| %.2e  max|graft-torch64| %.2e%n", name, what, vsTorch, vs64);
    assertArrayEquals(new long[] {2, 10}, logits.shape(), name);
    assertTrue(vsTorch <= ATOL, String.format("%s (%s): Graft's logits differ from torchvision's by %.3g", name, what,
        vsTorch));
  }

  @TestFactory
  Stream<DynamicTest> logitsFromPth() {
    return Zoo.names().stream().filter(n -> !n.equals("smallcnn")).map(n -> DynamicTest.dynamicTest(n,
        () -> check(n, TorchPth.read(resource(n + ".pth")), "zip .pth")));
  }

  /** The legacy file and a safetensors round trip hold exactly the zip file's weights (so, its logits). */
  @TestFactory
  Stream<DynamicTest> legacyPthAndSafetensorsHoldTheSameWeights() {
    return Zoo.names().stream().filter(n -> !n.equals("smallcnn")).map(n -> DynamicTest.dynamicTest(n, () -> {
      StateDict zip = TorchPth.read(resource(n + ".pth"));
      assertIdentical(zip, TorchPth.read(resource(n + "_legacy.pth")), n + " legacy .pth");
      // plain VGG's safetensors would be 0.5 GB each: the round trip runs for the others
      if (!n.startsWith("vgg") || n.equals("vgg11_bn")) {
        Path st = tmp.resolve(n + ".safetensors");
        Safetensors.write(st, zip, java.util.Map.of("source", n + ".pth"));
        assertIdentical(zip, Safetensors.read(st), n + " safetensors written by Graft");
      }
    }));
  }

  @TestFactory
  Stream<DynamicTest> logitsFromLegacyPthAndSafetensors() {
    return List.of("resnet18", "mobilenet_v2").stream().map(n -> DynamicTest.dynamicTest(n, () -> {
      check(n, TorchPth.read(resource(n + "_legacy.pth")), "legacy .pth");
      Path st = tmp.resolve(n + ".safetensors");
      Safetensors.write(st, TorchPth.read(resource(n + ".pth")), java.util.Map.of("source", n + ".pth"));
      check(n, Safetensors.read(st), "safetensors");
    }));
  }

  static void assertIdentical(StateDict expected, StateDict actual, String what) {
    assertEquals(new ArrayList<>(expected.keys()), new ArrayList<>(actual.keys()), what + ": keys");
    for (Map.Entry<String, Tensor> e : expected) {
      Tensor a = actual.get(e.getKey());
      assertEquals(e.getValue().dtype(), a.dtype(), what + " " + e.getKey());
      assertArrayEquals(e.getValue().shape(), a.shape(), what + " " + e.getKey());
      assertTrue(e.getValue().data().equalsWithEps(a.data(), 0.0), what + ": " + e.getKey() + " differs");
    }
  }
}
