package io.graft.zoo.onnx.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import io.graft.layers.Flatten;
import io.graft.layers.Identity;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.Sequential;
import io.graft.layers.activation.GELU;
import io.graft.layers.activation.LeakyReLU;
import io.graft.layers.activation.SiLU;
import io.graft.layers.activation.Sigmoid;
import io.graft.layers.activation.Tanh;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.BatchNorm;
import io.graft.layers.norm.BatchNorm1d;
import io.graft.layers.norm.BatchNorm2d;
import io.graft.layers.pool.AdaptiveAvgPool2d;
import io.graft.layers.pool.AvgPool2d;
import io.graft.layers.pool.MaxPool2d;
import io.graft.zoo.models.Classifier;
import io.graft.zoo.models.Zoo;
import io.graft.zoo.onnx.OnnxModel;
import io.graft.zoo.onnx.proto.Onnx;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Exported zoo models run in ONNX Runtime and in Graft's own ONNX reader, and give Graft's eval-mode logits within
 * 1e-4: random weights, BatchNorm statistics and affine parameters randomised (so that no BatchNorm is the
 * identity), a fine-tuned head of 7 classes, 64×64 images (28×28 for smallcnn), a batch of 2 on a graph built for
 * an example batch of 1.
 */
class OnnxExportTest {
  private static final double TOL = 1e-4;

  @TempDir
  Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"resnet18", "mobilenet_v2", "vgg11_bn", "smallcnn"})
  void exportMatchesGraftInOnnxRuntimeAndGraftsReader(String name) throws Exception {
    Module m = fineTuned(name, 7);
    long[] chw = name.equals("smallcnn") ? new long[] {1, 28, 28} : new long[] {3, 64, 64};
    Tensor x = Tensor.randn(new Rng(11), 2, chw[0], chw[1], chw[2]);
    float[] expected = m.call(x).toFloatArray();

    Path file = dir.resolve(name + ".onnx");
    Onnx.ModelProto proto = OnnxExport.toModel(m, chw, Map.of("graft.model", name));
    OnnxExport.write(file, proto);
    proto = null;

    float[] ort = runOrt(file, x);
    assertEquals(2 * 7, ort.length);
    assertClose(expected, ort, name + " in ONNX Runtime");

    OnnxModel back = OnnxModel.load(file);
    back.eval();
    assertClose(expected, back.call(x).toFloatArray(), name + " in Graft's ONNX reader");
  }

  @Test
  void writesAStandardGraphWithTorchvisionNames() throws Exception {
    Module m = fineTuned("resnet18", 7);
    Onnx.ModelProto p = OnnxExport.toModel(m, new long[] {3, 64, 64}, Map.of("graft.classes", "[\"a\"]"));
    assertEquals(8, p.getIrVersion());
    assertEquals(17, p.getOpsetImport(0).getVersion());
    assertEquals("", p.getOpsetImport(0).getDomain());
    assertEquals("input", p.getGraph().getInput(0).getName());
    assertEquals("logits", p.getGraph().getOutput(0).getName());
    assertEquals(List.of("batch", "3", "height", "width"), OnnxExport.inputDims(p), "ResNet stays size-free");
    List<String> names = p.getGraph().getInitializerList().stream().map(Onnx.TensorProto::getName).toList();
    // every parameter and running statistic, under its state-dict name (num_batches_tracked is not used)
    List<String> keys = m.stateDict().keys().stream().filter(k -> !k.endsWith("num_batches_tracked")).toList();
    assertEquals(keys.stream().sorted().toList(), names.stream().sorted().toList());
    assertEquals(List.of(7L, 512L), p.getGraph().getInitializerList().stream()
        .filter(t -> t.getName().equals("fc.weight")).findFirst().orElseThrow().getDimsList());
    assertTrue(p.getGraph().getNodeList().stream().noneMatch(n -> n.getOpType().equals("Dropout")));
    assertEquals("[\"a\"]", p.getMetadataProps(0).getValue());
    assertEquals(List.of("batch", "3", "64", "64"), OnnxExport.inputDims(
        OnnxExport.toModel(Zoo.create("vgg11", 3), new long[] {3, 64, 64}, Map.of())), "VGG's 7x7 pooling fixes H, W");
  }

  @Test
  void sizeFreeGraphRunsAtAnotherImageSize() throws Exception {
    Module m = fineTuned("resnet18", 5);
    Path file = dir.resolve("r.onnx");
    OnnxExport.write(file, OnnxExport.toModel(m, new long[] {3, 64, 64}, Map.of()));
    Tensor x = Tensor.randn(new Rng(3), 1, 3, 40, 48);
    assertClose(m.call(x).toFloatArray(), runOrt(file, x), "resnet18 at 40x48");
  }

  /** Both ways of writing an adaptive pooling that is not global: an AveragePool (8 → 2) and MatMuls (7 → 3). */
  @ParameterizedTest
  @ValueSource(ints = {8, 7})
  void adaptivePoolingToMoreThanOneCell(int size) throws Exception {
    Module m = new Sequential(new Conv2d(2, 4, 3), new AdaptiveAvgPool2d(size == 8 ? 2 : 3), new Flatten(),
        new Linear(size == 8 ? 16 : 36, 3));
    m.eval();
    Tensor x = Tensor.randn(new Rng(5), 2, 2, size + 2, size + 2);
    Path file = dir.resolve("pool" + size + ".onnx");
    Onnx.ModelProto p = OnnxExport.toModel(m, new long[] {2, size + 2, size + 2}, Map.of());
    assertTrue(p.getGraph().getNodeList().stream().anyMatch(n -> n.getOpType().equals(size == 8 ? "AveragePool"
        : "MatMul")));
    OnnxExport.write(file, p);
    float[] expected = m.call(x).toFloatArray();
    assertClose(expected, runOrt(file, x), "adaptive pooling " + size);
    assertClose(expected, OnnxModel.load(file).call(x).toFloatArray(), "adaptive pooling " + size + ", Graft");
  }

  /** The emitters the zoo does not use: each layer type in one small network, in ONNX Runtime and Graft's reader. */
  @Test
  void everyOtherLayerEmitterMatchesGraft() throws Exception {
    Module m = new Sequential(
        new Conv2d(4, 6, 3, Conv2d.Options.defaults().withStride(2).withPadding(2).withDilation(2).withGroups(2)),
        new BatchNorm2d(6, BatchNorm.Options.defaults().withAffine(false).withEps(1e-3)), new LeakyReLU(0.1),
        new AvgPool2d(3, 2, 1, false), new SiLU(), new MaxPool2d(2, 1, 1), new Sigmoid(), new Flatten(),
        new Linear(6 * 6 * 6, 8), new BatchNorm1d(8), new Tanh(), new Identity(), new Linear(8, 3, false));
    StateDict sd = m.stateDict();
    Rng rng = new Rng(8);
    sd.put("1.running_mean", Tensor.randn(rng, 6));
    sd.put("1.running_var", Tensor.rand(rng, 6).add(0.5));
    sd.put("9.running_mean", Tensor.randn(rng, 8));
    sd.put("9.running_var", Tensor.rand(rng, 8).add(0.5));
    sd.put("9.weight", Tensor.randn(rng, 8));
    m.loadStateDict(sd, true);
    m.eval();
    Tensor x = Tensor.randn(new Rng(6), 2, 4, 17, 17);
    Path file = dir.resolve("layers.onnx");
    OnnxExport.write(file, OnnxExport.toModel(m, new long[] {4, 17, 17}, Map.of()));
    float[] expected = m.call(x).toFloatArray();
    assertEquals(6, expected.length);
    assertClose(expected, runOrt(file, x), "other layers");
    assertClose(expected, OnnxModel.load(file).call(x).toFloatArray(), "other layers, Graft");
  }

  @Test
  void unsupportedLayerIsNamedByPath() {
    Module m = new Sequential(new Flatten(), new Sequential(new Linear(12, 4), new GELU()));
    GraftException e = assertThrows(GraftException.class,
        () -> OnnxExport.toModel(m, new long[] {3, 2, 2}, Map.of()));
    assertTrue(e.getMessage().contains("'1.1' (GELU)"), e.getMessage());
  }

  @Test
  void tooSmallExampleInputIsAShapeError() {
    GraftException e = assertThrows(GraftException.class,
        () -> OnnxExport.toModel(Zoo.create("smallcnn", 3), new long[] {1, 2, 2}, Map.of()));
    assertTrue(e.getMessage().contains("too small"), e.getMessage());
    e = assertThrows(GraftException.class, () -> OnnxExport.toModel(Zoo.create("smallcnn", 3), new long[] {1, 28},
        Map.of()));
    assertTrue(e.getMessage().contains("[C, H, W]"), e.getMessage());
    // an averaging matrix of 3 x 50,000,000 elements is refused before it is allocated
    Module pool = new Sequential(new AdaptiveAvgPool2d(3, 1), new Flatten());
    e = assertThrows(GraftException.class, () -> OnnxExport.toModel(pool, new long[] {1, 50_000_000, 1}, Map.of()));
    assertTrue(e.getMessage().contains("averaging matrix"), e.getMessage());
  }

  @Test
  void averagingMatricesMatchPyTorchsAdaptiveWindows() {
    // torch: adaptive_avg_pool1d over 5 inputs to 3 outputs averages [0,2), [1,4), [3,5)
    float h = 0.5f;
    float t = 1f / 3;
    assertArrayEquals(new float[] {h, h, 0, 0, 0, 0, t, t, t, 0, 0, 0, 0, h, h}, LayerEmitters.averaging(3, 5, false));
    float[] tr = LayerEmitters.averaging(3, 5, true);
    assertEquals(t, tr[3 * 2 + 1], 0f);
    assertEquals(0f, tr[3 * 2 + 2], 0f);
  }

  /** A zoo model with a replaced head and every BatchNorm's statistics and affine parameters randomised, in eval. */
  static Module fineTuned(String name, int classes) {
    Classifier c = Zoo.classifier(name, 10);
    c.replaceHead(classes);
    Module m = c.module();
    Rng rng = new Rng(42);
    StateDict sd = m.stateDict();
    for (String k : sd.keys()) {
      Tensor v = sd.get(k);
      if (k.endsWith("running_var")) {
        sd.put(k, Tensor.rand(rng, v.shape()).add(0.5));
      } else if (k.endsWith("running_mean") || (isBn(m, k) && (k.endsWith(".weight") || k.endsWith(".bias")))) {
        sd.put(k, Tensor.randn(rng, v.shape()).mul(0.2).add(k.endsWith(".weight") ? 1 : 0));
      }
    }
    m.loadStateDict(sd, true);
    m.eval();
    return m;
  }

  private static boolean isBn(Module m, String key) {
    return m.stateDict().containsKey(key.substring(0, key.lastIndexOf('.')) + ".running_mean");
  }

  static float[] runOrt(Path file, Tensor x) throws Exception {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
      o.setIntraOpNumThreads(2);
      try (OrtSession s = env.createSession(file.toString(), o);
          OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.toFloatArray()), x.shape());
          OrtSession.Result r = s.run(Map.of("input", in))) {
        OnnxTensor out = (OnnxTensor) r.get("logits").orElseThrow();
        FloatBuffer b = out.getFloatBuffer();
        float[] v = new float[b.remaining()];
        b.get(v);
        return v;
      }
    }
  }

  static void assertClose(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what + ": element count");
    double worst = 0;
    for (int k = 0; k < expected.length; k++) {
      worst = Math.max(worst, Math.abs(expected[k] - actual[k]));
    }
    System.out.printf("%-40s max|diff| %.2e%n", what, worst);
    assertTrue(worst <= TOL, what + ": max |diff| " + worst + " > " + TOL);
  }
}
