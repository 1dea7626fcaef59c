package io.graft.finetune.cli;

import static io.graft.finetune.cli.GraftCliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Tensor;
import io.graft.core.io.Npy;
import io.graft.core.random.Rng;
import io.graft.finetune.cli.GraftCliTest.Result;
import io.graft.zoo.onnx.proto.Onnx;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Running a fixed-batch ONNX graph in chunks never changes an answer silently: a graph that normalises with batch
 * statistics is not padded (zero rows would shift the real rows' outputs), and a graph whose output has no row per
 * input row is not cut into chunks and concatenated.
 */
class PredictChunkingTest {
  @TempDir
  Path tmp;

  static Onnx.TensorProto floats(String name, float[] v, long... dims) {
    return GraftCliTest.floats(name, v, dims);
  }

  /** Input x [batch, 4] (fixed batch), one node, output y; opset 15. */
  Path graph(String name, long batch, Onnx.NodeProto node, Onnx.TensorProto... inits) throws Exception {
    Onnx.TensorShapeProto.Builder shape = Onnx.TensorShapeProto.newBuilder()
        .addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(batch))
        .addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(4));
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName(name)
        .addInput(Onnx.ValueInfoProto.newBuilder().setName("x").setType(Onnx.TypeProto.newBuilder()
            .setTensorType(Onnx.TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape))))
        .addOutput(Onnx.ValueInfoProto.newBuilder().setName("y")).addNode(node);
    for (Onnx.TensorProto t : inits) {
      g.addInitializer(t);
    }
    Path p = tmp.resolve(name + ".onnx");
    Files.write(p, Onnx.ModelProto.newBuilder().setIrVersion(8).setGraph(g)
        .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setVersion(15)).build().toByteArray());
    return p;
  }

  Result predict(Path onnx, int n) {
    Path in = tmp.resolve("x" + n + ".npy");
    Npy.write(in, Tensor.rand(new Rng(n), n, 4));
    return run("predict", "--onnx", onnx.toString(), "--input", in.toString(), "--out",
        tmp.resolve("y" + n + ".npy").toString());
  }

  @Test
  void batchStatisticsAreNeverComputedOverPaddedRows() throws Exception {
    float[] one = {1, 1, 1, 1};
    float[] zero = {0, 0, 0, 0};
    Onnx.NodeProto bn = Onnx.NodeProto.newBuilder().setOpType("BatchNormalization").addInput("x")
        .addInput("s").addInput("b").addInput("m").addInput("v").addOutput("y")
        .addAttribute(Onnx.AttributeProto.newBuilder().setName("training_mode").setI(1)
            .setType(Onnx.AttributeProto.AttributeType.INT)).build();
    Path p = graph("bn_train", 2, bn, floats("s", one, 4), floats("b", zero, 4), floats("m", zero, 4),
        floats("v", one, 4));
    Result short3 = predict(p, 3);
    assertEquals(Graft.BAD_INPUT, short3.code(), short3.err());
    assertTrue(short3.err().contains("batch statistics") && short3.err().contains("multiple of 2"), short3.err());
    assertFalse(Files.exists(tmp.resolve("y3.npy")));
    Result whole4 = predict(p, 4); // whole batches of 2: nothing padded
    assertEquals(0, whole4.code(), whole4.err());
  }

  @Test
  void anOutputWithoutARowPerInputIsNotConcatenated() throws Exception {
    Onnx.NodeProto sum = Onnx.NodeProto.newBuilder().setOpType("ReduceSum").addInput("x").addOutput("y")
        .addAttribute(Onnx.AttributeProto.newBuilder().setName("keepdims").setI(0)
            .setType(Onnx.AttributeProto.AttributeType.INT)).build();
    Path p = graph("sum_all", 1, sum);
    Result r = predict(p, 3);
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("not one row per input row"), r.err());
    assertEquals(0, predict(p, 1).code());
  }
}
