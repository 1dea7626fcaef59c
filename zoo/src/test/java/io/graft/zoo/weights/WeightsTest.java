package io.graft.zoo.weights;

import static io.graft.testing.TensorAssert.assertIdentical;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.layers.StateDictLoadException;
import io.graft.testing.Fixtures;
import io.graft.zoo.models.Zoo;
import io.graft.zoo.onnx.proto.Onnx;
import io.graft.zoo.pretrained.Pretrained;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightsTest {
  @TempDir
  Path tmp;

  @Test
  void onnxInitializersKeepStateDictNamesWhenExportedWithPreserve() {
    StateDict sd = Weights.read(TorchPthTest.resource("onnx/preserve.onnx"));
    Safetensors.File expected = Fixtures.load("fixtures/zoo/onnx/expected.safetensors");
    for (Safetensors.Entry e : expected.entries()) {
      if (e.name().equals("out.weight")) {
        continue; // tied to fc.weight: the export stores it once
      }
      assertIdentical(sd.get(e.name()), expected.tensor(e.name()), e.name());
    }
    assertTrue(!OnnxWeights.isFusedExport(sd));
  }

  /** PyTorch's exporter keeps one initializer for parameters with identical values and names the rest by Identity. */
  @Test
  void onnxIdentityDeduplicatedInitializersComeBackUnderEveryName() {
    Path f = TorchPthTest.resource("onnx/identical.onnx");
    assertEquals(List.of("a.weight", "a.bias"), OnnxWeights.model(f).getGraph().getInitializerList().stream()
        .map(Onnx.TensorProto::getName).toList(), "the file stores a.* only");
    StateDict sd = Weights.read(f);
    Safetensors.File expected = Fixtures.load("fixtures/zoo/onnx/identical.expected.safetensors");
    assertEquals(java.util.Set.of("a.weight", "a.bias", "b.weight", "b.bias"), sd.keys());
    for (Safetensors.Entry e : expected.entries()) {
      assertIdentical(sd.get(e.name()), expected.tensor(e.name()), e.name());
    }
  }

  @Test
  void fusedOnnxExportIsExplained() {
    Path fused = TorchPthTest.resource("onnx/fused.onnx");
    assertTrue(OnnxWeights.isFusedExport(Weights.read(fused)));
    io.graft.layers.Module m = Zoo.create("resnet18", 10);
    GraftException e = assertThrows(GraftException.class, () -> Weights.loadInto(m, fused, true));
    assertTrue(e.getMessage().contains("fuse Conv+BatchNorm") && e.getMessage().contains("PRESERVE"), e.getMessage());
  }

  @Test
  void formatsAreDetectedAndLoadErrorsNameTheFile() throws Exception {
    assertEquals(Weights.Format.PYTORCH, Weights.detect(TorchPthTest.resource("resnet18.pth")));
    assertEquals(Weights.Format.PYTORCH, Weights.detect(TorchPthTest.resource("resnet18_legacy.pth")));
    assertEquals(Weights.Format.ONNX, Weights.detect(TorchPthTest.resource("onnx/fused.onnx")));
    Path st = tmp.resolve("w.safetensors");
    Safetensors.write(st, new StateDict().put("a", Tensor.zeros(2)), Map.of());
    assertEquals(Weights.Format.SAFETENSORS, Weights.detect(st));
    Path junk = tmp.resolve("w.bin");
    Files.writeString(junk, "junk junk junk");
    assertThrows(GraftException.class, () -> Weights.detect(junk));
    Path badOnnx = tmp.resolve("bad.onnx");
    Files.write(badOnnx, new byte[] {8, 7, 0x12, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f, 1, 2});
    GraftException e = assertThrows(GraftException.class, () -> Weights.read(badOnnx));
    assertTrue(e.getMessage().contains(badOnnx.toString()), e.getMessage());

    io.graft.layers.Module m = Zoo.create("resnet18", 1000);
    StateDictLoadException le = assertThrows(StateDictLoadException.class,
        () -> Weights.loadInto(m, TorchPthTest.resource("resnet18.pth"), true));
    assertTrue(le.getMessage().contains("resnet18.pth") && le.getMessage().contains("fc.weight")
        && le.getMessage().contains("[10, 512]") && le.getMessage().contains("[1000, 512]"), le.getMessage());
  }

  @Test
  void safetensorsWhoseHeaderLengthStartsWith0x80IsNotTakenForAPickle() throws Exception {
    // found by `graft eval --onnx`: a 384-byte header's length starts 80 01, like a pickle's protocol opcode
    String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    byte[] header = (json + " ".repeat(384 - json.length())).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + 384 + 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.putLong(384).put(header).putFloat(1.5f);
    Path p = tmp.resolve("w.safetensors");
    Files.write(p, b.array());
    assertEquals(Weights.Format.SAFETENSORS, Weights.detect(p));
    assertEquals(1.5, Weights.read(p).get("w").item(), 0);
  }

  @Test
  void pretrainedDescriptorsPointAtTheFileToFetch() throws Exception {
    Pretrained p = Pretrained.of("resnet50");
    assertEquals(Pretrained.RESNET50_IMAGENET1K_V1, p);
    assertEquals("0676ba61", p.sha256Prefix());
    assertEquals("https://download.pytorch.org/models/resnet50-0676ba61.pth", p.url());
    assertEquals(232, Pretrained.of("RESNET50_IMAGENET1K_V2").resizeSize());
    GraftException e = assertThrows(GraftException.class, () -> p.find(tmp));
    assertTrue(e.getMessage().contains(p.url()) && e.getMessage().contains(tmp.resolve(p.fileName()).toString()),
        e.getMessage());
    Files.writeString(tmp.resolve(p.fileName()), "not the checkpoint");
    GraftException h = assertThrows(GraftException.class, () -> p.find(tmp));
    assertTrue(h.getMessage().contains("sha256"), h.getMessage());
    for (Pretrained x : Pretrained.values()) {
      assertTrue(Zoo.names().contains(x.model()), x.name());
      assertTrue(x.sha256Prefix().matches("[0-9a-f]{8}"), x.name());
    }
  }

  /**
   * Every descriptor equals torchvision's own ({@code tools/fixtures/pretrained.py}): file (so sha256 prefix), resize,
   * crop, interpolation and accuracy; and every torchvision descriptor of a zoo architecture is offered, except those
   * for another input size (ViT-B/16's SWAG end-to-end weights need a 384² model) and those without a trained
   * classifier (VGG16's features-only weights).
   */
  @Test
  void pretrainedDescriptorsMatchTorchvision() throws Exception {
    com.fasterxml.jackson.databind.JsonNode all;
    try (java.io.InputStream in = WeightsTest.class.getResourceAsStream("/fixtures/zoo/pretrained.json")) {
      all = new com.fasterxml.jackson.databind.ObjectMapper().readTree(in).get("weights");
    }
    java.util.Set<String> offered = new java.util.TreeSet<>();
    for (Pretrained x : Pretrained.values()) {
      com.fasterxml.jackson.databind.JsonNode t = all.get(x.name());
      assertTrue(t != null, x.name() + " is not a torchvision descriptor");
      assertEquals(t.get("model").asText(), x.model(), x.name());
      assertEquals(t.get("file").asText(), x.fileName(), x.name());
      assertEquals(t.get("resize").asInt(), x.resizeSize(), x.name());
      assertEquals(t.get("crop").asInt(), x.cropSize(), x.name());
      assertEquals(t.get("interpolation").asText(), x.interpolation(), x.name());
      assertEquals(t.get("top1").asDouble(), x.top1(), 1e-9, x.name());
      offered.add(x.name());
    }
    java.util.Set<String> missing = new java.util.TreeSet<>();
    all.fields().forEachRemaining(e -> {
      if (Zoo.names().contains(e.getValue().get("model").asText()) && !offered.contains(e.getKey())
          && !e.getKey().contains("SWAG_E2E") && !e.getValue().get("top1").isNull()) {
        missing.add(e.getKey());
      }
    });
    assertEquals(java.util.Set.of(), missing, "torchvision descriptors of zoo architectures that Graft lacks");
    assertEquals("bicubic", Pretrained.of("efficientnet_b3").interpolation());
    assertEquals(300, Pretrained.of("efficientnet_b3").cropSize());
    assertEquals(Pretrained.VIT_B_16_IMAGENET1K_V1, Pretrained.of("vit_b_16"), "the V1 weights are the default");
  }
}
