package io.graft.zoo.onnx;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.zoo.onnx.proto.Onnx;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Structure-aware fuzzing (Jazzer) of ONNX graph execution: instead of mutating file bytes, the fuzzer's choices
 * build a small well-formed graph: opset versions (huge and negative included), an input of rank 0 to 5, then a
 * chain of shape-producing operators (Unsqueeze and Reshape up to rank 40, Expand, Tile, ConstantOfShape, Pad,
 * Slice with negative steps, pools with huge pads, Gather, ...) whose shape and attribute values mix small
 * numbers with 2^30, 600 M, 2^32 + 13 and the int64 extremes. Every graph must run, or end in a
 * {@link GraftException} that Graft raised itself; the run has a 256 MiB intermediate budget, so that a JVM
 * limited to little memory turns an allocation the budget missed into a finding.
 */
class OnnxGraphFuzzTest {
  static final long BUDGET = 256L << 20;

  private static final String[] OPS = {"Unsqueeze", "Reshape", "Expand", "Tile", "ConstantOfShape", "Pad", "Slice",
      "AveragePool", "MaxPool", "Add", "Softmax", "Gather", "Concat", "Transpose", "Squeeze", "Cast", "Flatten",
      "ReduceSum", "MatMul", "Erf", "LayerNormalization", "Equal", "Where"};

  private static final long[] INTERESTING = {0, 1, 2, 3, 4, -1, -2, -3, 1L << 30, 600_000_000L, 1L << 31,
      (1L << 32) + 13, Integer.MAX_VALUE, Integer.MIN_VALUE, Long.MAX_VALUE, Long.MIN_VALUE, 33, 40};

  @FuzzTest(maxExecutions = 10_000, maxDuration = "60s")
  void fuzz(FuzzedDataProvider d) throws IOException {
    Graph g = new Graph(d);
    Path p = Files.createTempFile("fuzz", ".onnx");
    try {
      Files.write(p, g.build().toByteArray());
      OnnxModel m = OnnxModel.load(p).maxIntermediateBytes(BUDGET);
      try (var grad = GradMode.disabled()) {
        m.forward(Tensor.ones(g.inputShape));
      }
    } catch (GraftException refused) {
      if (refused.getCause() instanceof RuntimeException r && !(r instanceof GraftException)) {
        throw new IllegalStateException("an ONNX node failed below Graft's checks", refused);
      }
    } finally {
      Files.deleteIfExists(p);
    }
  }

  /** A graph built from the fuzzer's choices. */
  private static final class Graph {
    final FuzzedDataProvider d;
    final long opset;
    final long[] inputShape;
    final Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName("fuzz");
    final List<Onnx.OperatorSetIdProto> imports = new ArrayList<>();
    int names;

    Graph(FuzzedDataProvider d) {
      this.d = d;
      opset = switch (d.consumeInt(0, 9)) {
        case 0 -> d.consumeLong();
        case 1 -> value();
        default -> d.consumeLong(7, 17);
      };
      imports.add(Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset).build());
      if (d.consumeInt(0, 9) == 0) {
        imports.add(Onnx.OperatorSetIdProto.newBuilder().setDomain("ai.onnx.ml").setVersion(value()).build());
      }
      inputShape = new long[d.consumeInt(0, 5)];
      for (int k = 0; k < inputShape.length; k++) {
        inputShape[k] = d.consumeInt(1, 4);
      }
      g.addInput(Graphs.input("x", Onnx.TensorProto.DataType.FLOAT_VALUE, inputShape));
      String cur = "x";
      int count = d.consumeInt(1, 5);
      for (int k = 0; k < count; k++) {
        cur = node(d.pickValue(OPS), cur);
      }
      g.addOutput(Onnx.ValueInfoProto.newBuilder().setName(cur));
    }

    Onnx.ModelProto build() {
      return Onnx.ModelProto.newBuilder().setIrVersion(8).setGraph(g).addAllOpsetImport(imports).build();
    }

    /** A small number, or one of the sizes and extremes that broke Graft before. */
    long value() {
      return d.consumeBoolean() ? d.pickValue(INTERESTING) : d.consumeLong(-4, 6);
    }

    long[] values(int min, int max) {
      long[] v = new long[d.consumeInt(min, max)];
      for (int k = 0; k < v.length; k++) {
        v[k] = value();
      }
      return v;
    }

    String name() {
      return "t" + names++;
    }

    /** An int64 initializer holding {@code v}; its name. */
    String longs(long[] v) {
      String n = name();
      g.addInitializer(Graphs.longs(n, v));
      return n;
    }

    /** Adds one {@code op} node reading {@code in} (plus generated initializers); returns its output's name. */
    String node(String op, String in) {
      String out = name();
      boolean inputs13 = opset >= 13;
      List<String> ins = new ArrayList<>(List.of(in));
      List<Onnx.AttributeProto> attrs = new ArrayList<>();
      switch (op) {
        case "Unsqueeze", "Squeeze" -> {
          long[] axes = values(0, op.equals("Unsqueeze") ? 40 : 4);
          if (op.equals("Unsqueeze") && d.consumeBoolean()) {   // towards rank 40: distinct leading axes
            for (int k = 0; k < axes.length; k++) {
              axes[k] = k;
            }
          }
          if (inputs13) {
            ins.add(longs(axes));
          } else {
            attrs.add(Graphs.ints("axes", axes));
          }
        }
        case "Reshape" -> ins.add(longs(values(0, 40)));
        case "Expand", "Tile" -> ins.add(longs(values(0, op.equals("Expand") ? 40 : 6)));
        case "ConstantOfShape" -> {
          ins.set(0, longs(values(0, 40)));
          if (d.consumeBoolean()) {
            attrs.add(Onnx.AttributeProto.newBuilder().setName("value").setType(Onnx.AttributeProto.AttributeType.TENSOR)
                .setT(Graphs.floats("v", new float[] {d.consumeFloat()}, 1)).build());
          }
        }
        case "Pad" -> {
          long[] pads = values(0, 12);
          if (opset >= 11) {
            ins.add(longs(pads));
          } else {
            attrs.add(Graphs.ints("pads", pads));
          }
          attrs.add(Graphs.s("mode", d.pickValue(new String[] {"constant", "reflect", "edge"})));
        }
        case "Slice" -> {
          int n = d.consumeInt(1, 3);
          long[] starts = new long[n];
          long[] ends = new long[n];
          long[] axes = new long[n];
          long[] steps = new long[n];
          for (int k = 0; k < n; k++) {
            starts[k] = value();
            ends[k] = value();
            axes[k] = d.consumeBoolean() ? k : value();
            steps[k] = d.consumeBoolean() ? -d.consumeLong(1, 3) : value();
          }
          if (opset >= 10) {
            ins.addAll(List.of(longs(starts), longs(ends), longs(axes), longs(steps)));
          } else {
            attrs.addAll(List.of(Graphs.ints("starts", starts), Graphs.ints("ends", ends), Graphs.ints("axes", axes)));
          }
        }
        case "AveragePool", "MaxPool" -> {
          attrs.add(Graphs.ints("kernel_shape", values(1, 3)));
          if (d.consumeBoolean()) {
            attrs.add(Graphs.ints("strides", values(1, 3)));
          }
          if (d.consumeBoolean()) {
            attrs.add(Graphs.ints("pads", values(2, 6)));
          }
          if (d.consumeBoolean()) {
            attrs.add(Graphs.i("ceil_mode", d.consumeInt(0, 1)));
          }
          if (d.consumeBoolean()) {
            attrs.add(Graphs.i("count_include_pad", d.consumeInt(0, 1)));
          }
        }
        case "Add", "Concat", "MatMul" -> {
          ins.add(d.consumeBoolean() ? in : "x");
          if (op.equals("Concat")) {
            attrs.add(Graphs.i("axis", value()));
          }
        }
        case "Softmax", "Flatten" -> attrs.add(Graphs.i("axis", value()));
        case "Erf" -> { }
        case "Equal" -> ins.add(d.consumeBoolean() ? in : "x");
        case "Where" -> {
          ins.add(d.consumeBoolean() ? in : "x");
          ins.add(d.consumeBoolean() ? in : "x");
        }
        case "LayerNormalization" -> {
          ins.add(d.consumeBoolean() ? in : "x");
          if (d.consumeBoolean()) {
            ins.add(d.consumeBoolean() ? in : "x");
          }
          attrs.add(Graphs.i("axis", value()));
          if (d.consumeBoolean()) {
            attrs.add(Graphs.f("epsilon", d.consumeFloat()));
          }
        }
        case "Gather" -> {
          ins.add(longs(values(0, 8)));
          attrs.add(Graphs.i("axis", value()));
        }
        case "Transpose" -> attrs.add(Graphs.ints("perm", values(0, 6)));
        case "Cast" -> attrs.add(Graphs.i("to", d.consumeBoolean() ? d.pickValue(new long[] {1, 6, 7, 9, 11})
            : value()));
        case "ReduceSum" -> {
          attrs.add(Graphs.i("keepdims", d.consumeInt(0, 1)));
          if (inputs13 && d.consumeBoolean()) {
            ins.add(longs(values(0, 4)));
          }
        }
        default -> throw new IllegalArgumentException(op);
      }
      g.addNode(Graphs.node(op, ins, List.of(out), attrs.toArray(new Onnx.AttributeProto[0])));
      return out;
    }
  }
}
