package io.graft.zoo.onnx;

import static io.graft.zoo.onnx.Graphs.f;
import static io.graft.zoo.onnx.Graphs.i;
import static io.graft.zoo.onnx.Graphs.ints;
import static io.graft.zoo.onnx.Graphs.s;

import com.google.protobuf.ByteString;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import io.graft.testing.GradCheck;
import io.graft.zoo.onnx.proto.Onnx;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Finite-difference checks in float64 of the imported operators whose backward is composed rather than a single
 * Graft op (ConvTranspose, 3-D convolution and pooling, padded and ceil-mode pooling, reflect/edge padding,
 * gathers, negative-step slices, the composed activations, ...). Forward values are proven by the ONNX backend
 * cases ({@link OnnxBackendTest}).
 */
class OnnxGradCheckTest {
  @TempDir
  Path tmp;

  final Rng rng = new Rng(11);

  /** One case: a single node over float64 inputs (all checked) and integer initializers. */
  final class Case {
    final String name;
    final Onnx.NodeProto.Builder node;
    final Map<String, Tensor> inputs = new LinkedHashMap<>();
    final List<Onnx.TensorProto> inits = new ArrayList<>();
    int opset = 17;
    int output = 0;

    Case(String name, String op, Onnx.AttributeProto... attrs) {
      this.name = name;
      this.node = Onnx.NodeProto.newBuilder().setOpType(op).addOutput("y0");
      for (Onnx.AttributeProto a : attrs) {
        node.addAttribute(a);
      }
    }

    Case x(String name, long... shape) {
      return value(name, Tensor.randn(DataType.DOUBLE, rng, shape));
    }

    Case positive(String name, long... shape) {
      return value(name, Tensor.rand(DataType.DOUBLE, rng, shape).add(0.5));
    }

    Case value(String name, Tensor t) {
      inputs.put(name, Tensor.of(t.data().dup('c')).requiresGrad(true));
      node.addInput(name);
      return this;
    }

    /** An input that is not differentiated (running statistics, bounds read as numbers). */
    Case fixed(String name, Tensor t) {
      inputs.put(name, Tensor.of(t.data().dup('c')));
      node.addInput(name);
      return this;
    }

    Case longs(String name, long... v) {
      ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
      for (long x : v) {
        b.putLong(x);
      }
      b.flip();
      inits.add(Onnx.TensorProto.newBuilder().setName(name).setDataType(Onnx.TensorProto.DataType.INT64_VALUE)
          .addDims(v.length).setRawData(ByteString.copyFrom(b)).build());
      node.addInput(name);
      return this;
    }

    /** An int64 initializer of the given shape. */
    Case longs(String name, long[] dims, long... v) {
      inits.add(Graphs.longs(name, dims, v));
      node.addInput(name);
      return this;
    }

    Case skip() {
      node.addInput("");
      return this;
    }

    Case outputs(int n, int checked) {
      for (int k = 1; k < n; k++) {
        node.addOutput("y" + k);
      }
      output = checked;
      return this;
    }

    Case opset(int v) {
      opset = v;
      return this;
    }

    DynamicTest test() {
      return DynamicTest.dynamicTest(name, () -> {
        Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName(name).addNode(node).addAllInitializer(inits);
        for (Map.Entry<String, Tensor> e : inputs.entrySet()) {
          g.addInput(Graphs.input(e.getKey(), Onnx.TensorProto.DataType.DOUBLE_VALUE, e.getValue().shape()));
        }
        g.addOutput(Onnx.ValueInfoProto.newBuilder().setName("y" + output));
        OnnxModel m = OnnxModel.load(Graphs.save(tmp.resolve(name + ".onnx"), g, opset));
        List<String> names = new ArrayList<>(inputs.keySet());
        GradCheck.assertGradients(name, ts -> {
          Map<String, Tensor> in = new LinkedHashMap<>();
          for (int k = 0; k < ts.length; k++) {
            in.put(names.get(k), ts[k]);
          }
          return m.run(in, List.of("y" + output)).get("y" + output);
        }, inputs.values().toArray(new Tensor[0]));
      });
    }
  }

  @TestFactory
  Stream<DynamicTest> composedOperatorsHaveFiniteDifferenceGradients() {
    List<Case> cases = List.of(
        new Case("ConvTranspose_stride_pads_outpad_group", "ConvTranspose", ints("strides", 2, 2),
            ints("pads", 1, 0, 0, 1), ints("output_padding", 1, 0), i("group", 2))
            .x("x", 1, 4, 3, 3).x("w", 4, 1, 3, 2).x("b", 2),
        new Case("ConvTranspose_1d_dilated", "ConvTranspose", ints("strides", 3), ints("dilations", 2))
            .x("x", 2, 1, 4).x("w", 1, 2, 2),
        new Case("Conv_3d_group_pads", "Conv", ints("pads", 1, 0, 1, 0, 1, 0), i("group", 2),
            ints("strides", 2, 1, 1)).x("x", 1, 2, 3, 4, 3).x("w", 2, 1, 2, 2, 2).x("b", 2),
        new Case("Conv_1d_same_upper", "Conv", s("auto_pad", "SAME_UPPER"), ints("strides", 2))
            .x("x", 1, 2, 7).x("w", 3, 2, 4),
        new Case("MaxPool_ceil_dilated_pads", "MaxPool", ints("kernel_shape", 2, 2), ints("strides", 2, 2),
            ints("dilations", 2, 1), ints("pads", 1, 0, 0, 1), i("ceil_mode", 1)).x("x", 1, 2, 5, 6),
        new Case("MaxPool_3d", "MaxPool", ints("kernel_shape", 2, 2, 2), ints("strides", 1, 2, 2))
            .x("x", 1, 1, 3, 4, 4),
        new Case("AveragePool_asymmetric_exclude_ceil", "AveragePool", ints("kernel_shape", 3, 3),
            ints("strides", 2, 2), ints("pads", 0, 1, 1, 2), i("ceil_mode", 1)).x("x", 1, 2, 5, 5),
        new Case("AveragePool_3d_include_pad", "AveragePool", ints("kernel_shape", 2, 2, 2),
            ints("strides", 2, 1, 2), ints("pads", 1, 0, 0, 0, 1, 1), i("count_include_pad", 1))
            .x("x", 1, 1, 4, 4, 4),
        new Case("Pad_reflect", "Pad", s("mode", "reflect")).x("x", 1, 2, 3, 4).longs("pads", 0, 0, 1, 2, 0, 0, 2, 1),
        new Case("Pad_edge", "Pad", s("mode", "edge")).x("x", 2, 3).longs("pads", 2, 0, 0, 3),
        new Case("Pad_constant_crop", "Pad").x("x", 2, 4).longs("pads", 1, -1, 0, 2),
        new Case("InstanceNormalization", "InstanceNormalization", f("epsilon", 1e-3f))
            .x("x", 2, 3, 4).x("scale", 3).x("B", 3),
        new Case("BatchNormalization_training", "BatchNormalization", i("training_mode", 1))
            .x("x", 4, 3, 2).x("scale", 3).x("B", 3).fixed("mean", Tensor.zeros(DataType.DOUBLE, 3))
            .fixed("var", Tensor.ones(DataType.DOUBLE, 3)).opset(15),
        new Case("Elu", "Elu", f("alpha", 0.7f)).x("x", 3, 4),
        new Case("Selu", "Selu").x("x", 3, 4),
        new Case("Softplus", "Softplus").x("x", 3, 4),
        new Case("Softsign", "Softsign").x("x", 3, 4),
        new Case("HardSwish", "HardSwish").value("x", Tensor.randn(DataType.DOUBLE, rng, 3, 4).mul(4)),
        new Case("HardSigmoid", "HardSigmoid", f("alpha", 0.3f)).value("x", Tensor.randn(DataType.DOUBLE, rng, 3, 4)
            .mul(3)),
        new Case("PRelu_channel", "PRelu").x("x", 2, 3, 4).x("slope", 3, 1),
        new Case("Max_broadcast", "Max").x("a", 2, 3).x("b", 3).x("c", 1, 3),
        new Case("Min_broadcast", "Min").x("a", 2, 3).x("b", 3),
        new Case("Mean", "Mean").x("a", 2, 3).x("b", 2, 3),
        new Case("Gather_repeated", "Gather", i("axis", 1)).x("data", 2, 4, 3)
            .longs("indices", 0, 3, 3, -1),
        new Case("Slice_negative_step", "Slice").x("x", 5, 4).longs("starts", 4, 1).longs("ends", 0, 100)
            .longs("axes", 0, 1).longs("steps", -2, 2),
        new Case("Tile", "Tile").x("x", 2, 3).longs("repeats", 2, 1),
        new Case("Expand", "Expand").x("x", 3, 1).longs("shape", 2, 3, 4),
        new Case("Split_second", "Split", i("axis", 0)).x("x", 6, 2).longs("split", 2, 4).outputs(2, 1),
        new Case("Softmax_opset11_coerced", "Softmax", i("axis", 1)).x("x", 2, 3, 4).opset(11),
        new Case("LogSoftmax", "LogSoftmax").x("x", 2, 3, 4),
        new Case("Gemm_transposed", "Gemm", i("transA", 1), i("transB", 1), f("alpha", 0.5f), f("beta", 2f))
            .x("A", 3, 2).x("B", 4, 3).x("C", 4),
        new Case("Clip_inputs", "Clip").value("x", Tensor.randn(DataType.DOUBLE, rng, 3, 4).mul(2)).skip()
            .fixed("max", Tensor.scalar(DataType.DOUBLE, 0.5)),
        new Case("ReduceMax_axes", "ReduceMax", ints("axes", 0, 2)).x("x", 2, 3, 4),
        new Case("ReduceSum_input_axes", "ReduceSum", i("keepdims", 0)).x("x", 2, 3, 4).longs("axes", 1),
        new Case("Pow_tensor", "Pow").positive("a", 2, 3).x("b", 3),
        new Case("Transpose", "Transpose", ints("perm", 2, 0, 1)).x("x", 2, 3, 4),
        new Case("Mod_fmod_broadcast", "Mod", i("fmod", 1)).value("a", Tensor.randn(DataType.DOUBLE, rng, 2, 3)
            .mul(4)).positive("b", 3),
        new Case("ScatterND_rows", "ScatterND").x("data", 4, 3).longs("indices", new long[] {2, 1}, 3, -4)
            .x("updates", 2, 3),
        new Case("ScatterND_cells_add_repeated", "ScatterND", s("reduction", "add")).x("data", 2, 3)
            .longs("indices", new long[] {3, 2}, 0, 1, 1, 2, 0, 1).x("updates", 3),
        new Case("ScatterND_mul", "ScatterND", s("reduction", "mul")).x("data", 3, 2, 2)
            .longs("indices", new long[] {2, 2}, 0, 1, 2, 0).x("updates", 2, 2));
    return cases.stream().map(Case::test);
  }
}
