package io.graft.finetune.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.Npy;
import io.graft.core.io.Safetensors;
import io.graft.core.random.Rng;
import io.graft.layers.Module;
import io.graft.zoo.models.Classifier;
import io.graft.zoo.models.Zoo;
import io.graft.zoo.onnx.proto.Onnx;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GraftCliTest {
  @TempDir
  Path tmp;

  record Result(int code, String out, String err) {}

  static Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Graft.execute(new PrintWriter(out), new PrintWriter(err), args);
    return new Result(code, out.toString(), err.toString());
  }

  Path trainedResnet18() {
    Module m = Zoo.create("resnet18", 1000);
    ((Classifier) m).replaceHead(5);
    Path w = tmp.resolve("r18.safetensors");
    Safetensors.write(w, m.stateDict(), Map.of());
    return w;
  }

  @Test
  void predictWritesTheModelsEvalLogits() {
    Path w = trainedResnet18();
    Tensor x = Tensor.randn(new Rng(4), 3, 3, 40, 40);
    Path in = tmp.resolve("x.npy");
    Path out = tmp.resolve("y.npy");
    Npy.write(in, x);
    Result r = run("predict", "--model", "resnet18", "--weights", w.toString(), "--input", in.toString(), "--out",
        out.toString(), "--batch-size", "2");
    assertEquals(0, r.code, r.err);
    Module m = Zoo.create("resnet18", 5);
    m.loadStateDict(Safetensors.read(w), true);
    m.eval();
    Tensor expected;
    try (var g = GradMode.disabled()) {
      expected = m.call(x);
    }
    Tensor y = Npy.read(out);
    assertArrayEquals(new long[] {3, 5}, y.shape());
    assertArrayEquals(expected.toFloatArray(), y.toFloatArray(), 1e-5f);
  }

  /** A one-node ONNX graph y = x Wᵀ + b over a free batch dimension, built with the protobuf classes. */
  Path gemmOnnx(float[] w, float[] b) throws Exception {
    Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder()
        .addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
        .addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(4));
    Onnx.GraphProto g = Onnx.GraphProto.newBuilder().setName("gemm")
        .addInput(Onnx.ValueInfoProto.newBuilder().setName("x").setType(Onnx.TypeProto.newBuilder()
            .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape))))
        .addOutput(Onnx.ValueInfoProto.newBuilder().setName("y"))
        .addInitializer(floats("W", w, 3, 4)).addInitializer(floats("B", b, 3))
        .addNode(Onnx.NodeProto.newBuilder().setOpType("Gemm").addInput("x").addInput("W").addInput("B")
            .addOutput("y").addAttribute(Onnx.AttributeProto.newBuilder().setName("transB").setI(1)
                .setType(Onnx.AttributeProto.AttributeType.INT)))
        .build();
    Path p = tmp.resolve("gemm.onnx");
    java.nio.file.Files.write(p, Onnx.ModelProto.newBuilder().setIrVersion(8).setGraph(g)
        .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setVersion(13)).build().toByteArray());
    return p;
  }

  static Onnx.TensorProto floats(String name, float[] v, long... dims) {
    Onnx.TensorProto.Builder t = Onnx.TensorProto.newBuilder().setName(name).setDataType(1);
    for (long d : dims) {
      t.addDims(d);
    }
    for (float f : v) {
      t.addFloatData(f);
    }
    return t.build();
  }

  @Test
  void predictRunsAnOnnxGraph() throws Exception {
    Rng rng = new Rng(5);
    Tensor w = Tensor.randn(rng, 3, 4);
    Tensor b = Tensor.randn(rng, 3);
    Path model = gemmOnnx(w.toFloatArray(), b.toFloatArray());
    Tensor x = Tensor.randn(rng, 5, 4);
    Path in = tmp.resolve("x.npy");
    Path out = tmp.resolve("y.npy");
    Npy.write(in, x);
    Result r = run("predict", "--onnx", model.toString(), "--input", in.toString(), "--out", out.toString(),
        "--batch-size", "2");
    assertEquals(0, r.code, r.err);
    Tensor expected = x.matmul(w.transpose(0, 1)).add(b);
    Tensor y = Npy.read(out);
    assertArrayEquals(new long[] {5, 3}, y.shape());
    assertArrayEquals(expected.toFloatArray(), y.toFloatArray(), 1e-5f);
    Result both = run("predict", "--onnx", model.toString(), "--model", "resnet18", "--input", in.toString(),
        "--out", out.toString());
    assertTrue(both.code != 0 && both.err.contains("--onnx"), both.err);
    Npy.write(in, Tensor.randn(rng, 5, 7));
    Result bad = run("predict", "--onnx", model.toString(), "--input", in.toString(), "--out", out.toString());
    assertTrue(bad.code != 0 && bad.err.contains("[5, 7]") && bad.err.contains("'x'"), bad.err);
  }

  /** A tiny CNN classifier as PyTorch exports it without dynamic axes (batch fixed at 1), 32×32 RGB input. */
  Path tinyCnnOnnx() throws Exception {
    Rng rng = new Rng(8);
    Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder();
    for (long d : new long[] {1, 3, 32, 32}) {
      shape.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    }
    Onnx.AttributeProto pads = Onnx.AttributeProto.newBuilder().setName("pads")
        .setType(Onnx.AttributeProto.AttributeType.INTS).addInts(1).addInts(1).addInts(1).addInts(1).build();
    Onnx.GraphProto g = Onnx.GraphProto.newBuilder().setName("tiny")
        .addInput(Onnx.ValueInfoProto.newBuilder().setName("input").setType(Onnx.TypeProto.newBuilder()
            .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape))))
        .addOutput(Onnx.ValueInfoProto.newBuilder().setName("logits"))
        .addInitializer(floats("conv.weight", Tensor.randn(rng, 8, 3, 3, 3).mul(0.3).toFloatArray(), 8, 3, 3, 3))
        .addInitializer(floats("conv.bias", new float[8], 8))
        .addInitializer(floats("fc.weight", Tensor.randn(rng, 5, 8).mul(0.3).toFloatArray(), 5, 8))
        .addInitializer(floats("fc.bias", new float[5], 5))
        .addNode(Onnx.NodeProto.newBuilder().setOpType("Conv").addInput("input").addInput("conv.weight")
            .addInput("conv.bias").addOutput("c").addAttribute(pads))
        .addNode(Onnx.NodeProto.newBuilder().setOpType("Relu").addInput("c").addOutput("r"))
        .addNode(Onnx.NodeProto.newBuilder().setOpType("GlobalAveragePool").addInput("r").addOutput("p"))
        .addNode(Onnx.NodeProto.newBuilder().setOpType("Flatten").addInput("p").addOutput("f"))
        .addNode(Onnx.NodeProto.newBuilder().setOpType("Gemm").addInput("f").addInput("fc.weight")
            .addInput("fc.bias").addOutput("logits").addAttribute(Onnx.AttributeProto.newBuilder()
                .setName("transB").setI(1).setType(Onnx.AttributeProto.AttributeType.INT)))
        .build();
    Path p = tmp.resolve("tiny.onnx");
    Files.write(p, Onnx.ModelProto.newBuilder().setIrVersion(8).setGraph(g)
        .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setVersion(14)).build().toByteArray());
    return p;
  }

  @Test
  void finetuneAndEvalAnOnnxClassifier() throws Exception {
    Path data = demoData();
    Path model = tinyCnnOnnx();
    Path out = tmp.resolve("onnx-run");
    Result r = run("finetune", "--onnx", model.toString(), "--data", "fashion-mnist:" + data, "--classes", "5-9",
        "--per-class", "20", "--strategy", "full", "--epochs", "1", "--batch-size", "16", "--no-progress", "--out",
        out.toString());
    assertEquals(0, r.code, r.err);
    StateDict sd = Safetensors.read(out.resolve("model.safetensors"));
    assertEquals(java.util.Set.of("backbone.conv.weight", "backbone.conv.bias", "fc.weight", "fc.bias"), sd.keys());
    assertArrayEquals(new long[] {5, 8}, sd.get("fc.weight").shape());
    var metrics = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.resolve("metrics.json").toFile());
    double acc = metrics.get("test_accuracy").asDouble();
    Result e = run("eval", "--onnx", model.toString(), "--weights", out.resolve("model.safetensors").toString(),
        "--data", "fashion-mnist:" + data, "--classes", "5-9");
    assertEquals(0, e.code, e.err);
    assertTrue(e.out.contains(String.format("top-1 %.2f%%", acc)), e.out);
    Result scratch = run("finetune", "--onnx", model.toString(), "--data", "fashion-mnist:" + data, "--strategy",
        "scratch", "--out", out.toString());
    assertEquals(Graft.BAD_INPUT, scratch.code);
    assertTrue(scratch.err.contains("scratch"), scratch.err);
  }

  @Test
  void inspectAndConvertRoundTrip() {
    Path w = trainedResnet18();
    Path st = tmp.resolve("copy.safetensors");
    assertEquals(0, run("convert", w.toString(), st.toString()).code);
    Result r = run("inspect", st.toString());
    assertEquals(0, r.code, r.err);
    assertTrue(r.out.contains("layer4.1.bn2.num_batches_tracked") && r.out.contains("fc.weight")
        && r.out.contains("[5, 512]") && r.out.contains("122 tensors"), r.out);
    StateDict a = Safetensors.read(w);
    StateDict b = Safetensors.read(st);
    assertEquals(a.keyList(), b.keyList());
  }

  /** A PyTorch-written .pth (the demo's stage-1 checkpoint) and an ONNX file: inspect lists them, convert keeps names. */
  @Test
  void inspectAndConvertPthAndOnnx() throws Exception {
    Path pth = demoData().resolve("smallcnn_fmnist_0-4.pth");
    Result r = run("inspect", pth.toString());
    assertEquals(0, r.code, r.err);
    assertTrue(r.out.contains("features.0.weight") && r.out.contains("[16, 1, 3, 3]") && r.out.contains("F32")
        && r.out.contains("features.1.num_batches_tracked") && r.out.contains("I64") && r.out.contains("PYTORCH"), r.out);
    Path st = tmp.resolve("stage1.safetensors");
    assertEquals(0, run("convert", pth.toString(), st.toString()).code);
    StateDict fromPth = io.graft.zoo.weights.Weights.read(pth);
    StateDict converted = Safetensors.read(st);
    assertEquals(fromPth.keyList(), converted.keyList());
    for (String k : fromPth.keys()) {
      assertArrayEquals(fromPth.get(k).toDoubleArray(), converted.get(k).toDoubleArray(), k);
    }
    // float16 and bfloat16 are listed and converted as stored, not as the float32 Graft computes in
    Path half = tmp.resolve("half.safetensors");
    StateDict h = new StateDict();
    h.put("w16", Tensor.of(Tensor.randn(new Rng(2), 3, 4).data().castTo(org.nd4j.linalg.api.buffer.DataType.HALF)));
    h.put("wbf", Tensor.of(Tensor.randn(new Rng(3), 5).data().castTo(org.nd4j.linalg.api.buffer.DataType.BFLOAT16)));
    Safetensors.write(half, h, Map.of());
    Result hi = run("inspect", half.toString());
    assertEquals(0, hi.code, hi.err);
    assertTrue(hi.out.contains("F16") && hi.out.contains("BF16") && hi.out.contains("34 bytes"), hi.out);
    Path halfCopy = tmp.resolve("half-copy.safetensors");
    assertEquals(0, run("convert", half.toString(), halfCopy.toString()).code);
    assertEquals(List.of("F16", "BF16"), Safetensors.open(halfCopy).entries().stream()
        .map(Safetensors.Entry::dtype).toList());
    Path onnx = tinyCnnOnnx();
    Result o = run("inspect", onnx.toString());
    assertEquals(0, o.code, o.err);
    assertTrue(o.out.contains("conv.weight") && o.out.contains("[8, 3, 3, 3]") && o.out.contains("4 tensors"), o.out);
    Path ost = tmp.resolve("tiny.safetensors");
    assertEquals(0, run("convert", onnx.toString(), ost.toString()).code);
    assertEquals(java.util.Set.of("conv.weight", "conv.bias", "fc.weight", "fc.bias"), Safetensors.read(ost).keys());
  }

  Path demoData() {
    return io.graft.finetune.recipe.Demo.assets();
  }

  @Test
  void finetuneThenEvalFromTheCommandLine() throws Exception {
    Path data = demoData();
    Path out = tmp.resolve("run");
    Result r = run("finetune", "--model", "smallcnn", "--weights", data.resolve("smallcnn_fmnist_0-4.pth").toString(),
        "--data", "fashion-mnist:" + data, "--classes", "5-9", "--per-class", "40", "--strategy", "last-1",
        "--epochs", "2", "--no-progress", "--out", out.toString());
    assertEquals(0, r.code, r.err);
    for (String f : new String[] {"metrics.json", "metrics.jsonl", "learning_curve.png", "model.safetensors",
        "last.ckpt"}) {
      assertTrue(Files.isRegularFile(out.resolve(f)), f);
    }
    var metrics = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.resolve("metrics.json").toFile());
    double acc = metrics.get("test_accuracy").asDouble();
    assertTrue(acc > 40 && acc <= 100, "test accuracy " + acc);
    assertEquals(2, metrics.get("history").size());
    assertTrue(metrics.has("best_val_accuracy"));
    Result e = run("eval", "--model", "smallcnn", "--weights", out.resolve("model.safetensors").toString(), "--data",
        "fashion-mnist:" + data, "--classes", "5-9");
    assertEquals(0, e.code, e.err);
    assertTrue(e.out.contains(String.format("top-1 %.2f%%", acc)), e.out);
    Result bad = run("finetune", "--model", "smallcnn", "--data", "fashion-mnist:" + data, "--strategy", "full",
        "--out", out.toString());
    assertEquals(Graft.BAD_INPUT, bad.code);
    assertTrue(bad.err.contains("--weights"), bad.err);
  }

  @Test
  void demoRunsOfflineOnShippedData() throws Exception {
    Path out = tmp.resolve("demo");
    Result r = run("demo", "--seeds", "0", "--epochs", "1", "--out", out.toString());
    assertEquals(0, r.code, r.err);
    assertTrue(r.out.contains("feature-extract") && r.out.contains("PyTorch acc"), r.out);
    var metrics = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.resolve("metrics.json").toFile());
    assertEquals(3, metrics.get("strategies").size());
  }

  @Test
  void badInputIsANonZeroStatusAndOneLine() throws Exception {
    Path w = trainedResnet18();
    Path in = tmp.resolve("gray.npy");
    Npy.write(in, Tensor.zeros(2, 1, 8, 8));
    Result[] cases = {
        run("inspect", tmp.resolve("missing.pth").toString()),
        run("predict", "--model", "resnet18", "--weights", w.toString(), "--input", in.toString(), "--out",
            tmp.resolve("o.npy").toString()),
        run("predict", "--model", "resnet99", "--weights", w.toString(), "--input", in.toString(), "--out",
            tmp.resolve("o.npy").toString()),
        run("convert", w.toString(), tmp.resolve("out.bin").toString()),
        run("predict", "--model", "resnet18"),
        run("frobnicate"),
        run("finetune", "--model", "smallcnn", "--weights", w.toString(), "--data", "fashion-mnist:" + demoData(),
            "--strategy", "scratch", "--out", tmp.resolve("never").toString()),
    };
    for (Result r : cases) {
      assertEquals(Graft.BAD_INPUT, r.code, r.err);
      assertTrue(r.err.startsWith("graft: error: "), r.err);
      assertFalse(r.err.contains("Exception"), r.err);
    }
    assertTrue(cases[1].err.contains("(N, 3, H, W)"), cases[1].err);
    assertTrue(cases[2].err.contains("resnet99"), cases[2].err);
    assertTrue(cases[6].err.contains("--strategy scratch") && cases[6].err.contains("--weights"), cases[6].err);
    assertFalse(Files.exists(tmp.resolve("o.npy")));
  }
}
