package io.graft.finetune.cli;

import static io.graft.finetune.cli.GraftCliTest.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.Safetensors;
import io.graft.core.random.Rng;
import io.graft.finetune.cli.GraftCliTest.Result;
import io.graft.layers.Module;
import io.graft.zoo.models.Classifier;
import io.graft.zoo.models.Zoo;
import io.graft.zoo.onnx.OnnxModel;
import io.graft.zoo.onnx.proto.Onnx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code graft export}: a fine-tuned zoo model's weights to an ONNX graph that Graft's reader runs alike. */
class ExportCommandTest {
  @TempDir
  Path tmp;

  /** A model with a 3-class head, saved as a fine-tune run saves it (class names in the metadata). */
  Path savedWithClasses(Module m) {
    Path w = tmp.resolve("model.safetensors");
    Safetensors.write(w, m.stateDict(), ClassNames.metadata(List.of("cat", "dog", "eel")));
    return w;
  }

  @Test
  void exportsAFineTunedHeadWithItsClassNames() throws Exception {
    Module m = Zoo.create("resnet18", 1000);
    ((Classifier) m).replaceHead(3);
    Path w = savedWithClasses(m);
    Path onnx = tmp.resolve("out.onnx");
    Result r = run("export", "--model", "resnet18", "--weights", w.toString(), "--onnx", onnx.toString(),
        "--image-size", "32");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("[batch, 3, height, width]") && r.out().contains("classes [cat, dog, eel]"), r.out());

    Onnx.ModelProto p = Onnx.ModelProto.parseFrom(Files.readAllBytes(onnx));
    Map<String, String> meta = p.getMetadataPropsList().stream()
        .collect(Collectors.toMap(Onnx.StringStringEntryProto::getKey, Onnx.StringStringEntryProto::getValue));
    assertEquals("[\"cat\",\"dog\",\"eel\"]", meta.get("graft.classes"));
    assertEquals("resnet18", meta.get("graft.model"));
    assertEquals(17, p.getOpsetImport(0).getVersion());

    m.eval();
    Tensor x = Tensor.randn(new Rng(9), 2, 3, 32, 32);
    float[] expected;
    float[] actual;
    try (var g = GradMode.disabled()) {
      expected = m.call(x).toFloatArray();
      actual = OnnxModel.load(onnx).call(x).toFloatArray();
    }
    assertEquals(6, actual.length);
    for (int k = 0; k < expected.length; k++) {
      assertEquals(expected[k], actual[k], 1e-4, "logit " + k);
    }
  }

  @Test
  void badArgumentsAreRefusedWithTheirName() {
    Module m = Zoo.create("smallcnn", 3);
    Path w = savedWithClasses(m);
    Result r = run("export", "--model", "resnet9", "--weights", w.toString(), "--onnx", tmp.resolve("a.onnx")
        .toString());
    assertEquals(Graft.BAD_INPUT, r.code());
    assertTrue(r.err().contains("unknown model 'resnet9'"), r.err());
    r = run("export", "--model", "smallcnn", "--weights", w.toString(), "--onnx", tmp.resolve("a.txt").toString());
    assertEquals(Graft.BAD_INPUT, r.code());
    assertTrue(r.err().contains("--onnx must name a .onnx file"), r.err());
    r = run("export", "--model", "smallcnn", "--weights", w.toString(), "--onnx", tmp.resolve("a.onnx").toString(),
        "--num-classes", "4");
    assertEquals(Graft.BAD_INPUT, r.code());
    assertTrue(r.err().contains("--num-classes 4, but") && r.err().contains("3 classes"), r.err());
    assertFalse(Files.exists(tmp.resolve("a.onnx")));
  }

  @Test
  void helpHasNoWarnings() {
    Result r = run("export", "--help");
    assertEquals(0, r.code());
    assertTrue(r.out().contains("--image-size") && r.out().contains("224"), r.out());
    assertEquals("", r.err());
  }
}
