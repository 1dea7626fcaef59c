package io.graft.finetune.cli;

import static io.graft.finetune.cli.GraftCliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.Npy;
import io.graft.core.io.Safetensors;
import io.graft.core.random.Rng;
import io.graft.finetune.cli.GraftCliTest.Result;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import io.graft.zoo.onnx.OnnxClassifier;
import io.graft.zoo.onnx.OnnxModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code graft predict} takes each model's own input (1×28×28 for smallcnn), runs ONNX graphs exported with a fixed
 * batch in chunks of that batch, applies fine-tuned weights to an ONNX graph, and a weights file of another
 * architecture gets a short message that names it.
 */
class PredictCliTest {
  @TempDir
  Path tmp;

  Tensor eval(Module m, Tensor x) {
    m.eval();
    try (var g = GradMode.disabled()) {
      return m.call(x);
    }
  }

  /** Item 5: smallcnn predicts on its own 1-channel 28×28 input; another size is refused, naming the expected one. */
  @Test
  void smallcnnTakesItsOneChannelInput() {
    Module m = Zoo.create("smallcnn", 4);
    Path w = tmp.resolve("s.safetensors");
    Safetensors.write(w, m.stateDict(), ClassNames.metadata(List.of("a", "b", "c", "d")));
    Tensor x = Tensor.rand(new Rng(3), 3, 1, 28, 28);
    Path in = tmp.resolve("x.npy");
    Path out = tmp.resolve("y.npy");
    Npy.write(in, x);
    Result r = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--input", in.toString(), "--out",
        out.toString(), "--batch-size", "2");
    assertEquals(0, r.code(), r.err());
    assertArrayEquals(eval(m, x).toFloatArray(), Npy.read(out).toFloatArray(), 1e-5f);
    assertTrue(r.out().contains("classes [a, b, c, d]"), r.out());
    Npy.write(in, Tensor.rand(new Rng(3), 3, 1, 32, 32));
    Result bad = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--input", in.toString(),
        "--out", tmp.resolve("z.npy").toString());
    assertEquals(Graft.BAD_INPUT, bad.code());
    assertTrue(bad.err().contains("(N, 1, 28, 28)") && bad.err().contains("[3, 1, 32, 32]"), bad.err());
    Result classes = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--num-classes", "5", "--input",
        in.toString(), "--out", tmp.resolve("z.npy").toString());
    assertEquals(Graft.BAD_INPUT, classes.code());
    assertTrue(classes.err().contains("--num-classes 5") && classes.err().contains("4 classes"), classes.err());
  }

  /**
   * Item 6: a graph exported with its batch fixed at 1 predicts a batch of 5 (in chunks of 1); with fine-tuned
   * weights ({@code --onnx --weights}) it predicts with the new head.
   */
  @Test
  void onnxWithAFixedBatchAndFineTunedWeights() throws Exception {
    GraftCliTest g = new GraftCliTest();
    g.tmp = tmp;
    Path onnx = g.tinyCnnOnnx(); // [1, 3, 32, 32] input, as torch.onnx.export writes without dynamic axes
    Tensor x = Tensor.rand(new Rng(6), 5, 3, 32, 32);
    Path in = tmp.resolve("x.npy");
    Path out = tmp.resolve("y.npy");
    Npy.write(in, x);
    Result r = run("predict", "--onnx", onnx.toString(), "--input", in.toString(), "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("in chunks of the graph's fixed batch 1"), r.out());
    OnnxModel whole = OnnxModel.load(onnx);
    Tensor y = Npy.read(out);
    assertArrayEquals(new long[] {5, 5}, y.shape());
    for (int i = 0; i < 5; i++) {
      Tensor one = eval(whole, io.graft.core.ops.ShapeOps.slice(x, 0, i, i + 1, 1));
      assertArrayEquals(one.toFloatArray(), io.graft.core.ops.ShapeOps.slice(y, 0, i, i + 1, 1).toFloatArray(),
          1e-5f, "row " + i);
    }
    // fine-tuned weights: a 3-way head, as 'graft finetune --onnx' writes them
    OnnxClassifier tuned = OnnxClassifier.of(OnnxModel.load(onnx));
    tuned.replaceHead(3);
    Path w = tmp.resolve("tuned.safetensors");
    Safetensors.write(w, tuned.stateDict(), ClassNames.metadata(List.of("x", "y", "z")));
    Result t = run("predict", "--onnx", onnx.toString(), "--weights", w.toString(), "--input", in.toString(),
        "--out", out.toString());
    assertEquals(0, t.code(), t.err());
    assertArrayEquals(eval(tuned, x).toFloatArray(), Npy.read(out).toFloatArray(), 1e-5f);
    assertTrue(t.out().contains("classes [x, y, z]"), t.out());
  }

  /** Item 8: resnet34 weights loaded as resnet18 give a short message with counts that names resnet34. */
  @Test
  void anotherArchitecturesWeightsGetAShortMessageNamingIt() {
    Module r34 = Zoo.create("resnet34", 10);
    Path w = tmp.resolve("resnet34.safetensors");
    Safetensors.write(w, r34.stateDict(), Map.of());
    Npy.write(tmp.resolve("x.npy"), Tensor.rand(new Rng(1), 1, 3, 32, 32));
    Result r = run("predict", "--model", "resnet18", "--weights", w.toString(), "--input",
        tmp.resolve("x.npy").toString(), "--out", tmp.resolve("y.npy").toString());
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    String line = r.err().strip();
    assertFalse(line.contains("\n"), line);
    assertTrue(line.length() < 1200, line.length() + " characters: " + line);
    assertTrue(line.contains("Unexpected key(s) in state_dict (") && line.contains(" more")
        && line.contains("look like resnet34") && line.contains("--model resnet34"), line);
  }
}
