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
 * Structure-aware fuzzing (Jazzer) of the index-building operators of Swin exports: Mod, Not, Range and ScatterND
 * over integer and float operands, with index, shape and scalar values that mix small numbers with 2^30, 2^32 + 13
 * and the int64 extremes. Every graph must run or end in a {@link GraftException} that Graft raised itself (a
 * separate class from {@link OnnxGraphFuzzTest}, so that test's regression inputs keep decoding to the graphs
 * they were found as).
 */
class OnnxIndexFuzzTest {
  static final long BUDGET = 256L << 20;

  private static final long[] INTERESTING = {0, 1, 2, 3, -1, -2, -4, 1L << 30, (1L << 32) + 13, Integer.MAX_VALUE,
      Integer.MIN_VALUE, Long.MAX_VALUE, Long.MIN_VALUE, 600_000_000L};

  @FuzzTest(maxExecutions = 10_000, maxDuration = "60s")
  void fuzz(FuzzedDataProvider d) throws IOException {
    Graph g = new Graph(d);
    Path p = Files.createTempFile("fuzz", ".onnx");
    try {
      Files.write(p, g.build().toByteArray());
      OnnxModel m = OnnxModel.load(p).maxIntermediateBytes(BUDGET);
      try (var grad = d.consumeBoolean() ? GradMode.disabled() : GradMode.enabled()) {
        Tensor y = m.forward(Tensor.ones(g.inputShape));
        if (y.requiresGrad() && y.dtype().isFPType() && y.numel() > 0) {
          y.sum().backward();
        }
      }
    } catch (GraftException refused) {
      if (refused.getCause() instanceof RuntimeException r && !(r instanceof GraftException)) {
        throw new IllegalStateException("an ONNX node failed below Graft's checks", refused);
      }
    } finally {
      Files.deleteIfExists(p);
    }
  }

  private static final class Graph {
    final FuzzedDataProvider d;
    final long[] inputShape;
    final Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName("fuzz");
    int names;

    Graph(FuzzedDataProvider d) {
      this.d = d;
      inputShape = new long[d.consumeInt(0, 4)];
      for (int k = 0; k < inputShape.length; k++) {
        inputShape[k] = d.consumeInt(0, 4);
      }
      g.addInput(Graphs.input("x", Onnx.TensorProto.DataType.FLOAT_VALUE, inputShape));
      String cur = "x";
      int count = d.consumeInt(1, 4);
      for (int k = 0; k < count; k++) {
        cur = node(d.pickValue(new String[] {"Mod", "Not", "Range", "ScatterND", "Equal", "Cast", "Shape"}), cur);
      }
      g.addOutput(Onnx.ValueInfoProto.newBuilder().setName(cur));
    }

    Onnx.ModelProto build() {
      return Onnx.ModelProto.newBuilder().setIrVersion(8).setGraph(g).addOpsetImport(Onnx.OperatorSetIdProto
          .newBuilder().setDomain("").setVersion(d.consumeLong(11, 17))).build();
    }

    long value() {
      return d.consumeBoolean() ? d.pickValue(INTERESTING) : d.consumeLong(-4, 6);
    }

    String name() {
      return "t" + names++;
    }

    /** An int64 initializer of a random shape (rank 0 to 3) filled with values; or a float one. */
    String operand(boolean floats) {
      String n = name();
      long[] dims = new long[d.consumeInt(0, 3)];
      long count = 1;
      for (int k = 0; k < dims.length; k++) {
        dims[k] = d.consumeInt(0, 4);
        count *= dims[k];
      }
      if (floats) {
        float[] v = new float[(int) count];
        for (int k = 0; k < v.length; k++) {
          v[k] = d.consumeBoolean() ? d.consumeFloat() : d.consumeInt(-4, 6);
        }
        g.addInitializer(Graphs.floats(n, v, dims));
      } else {
        long[] v = new long[(int) count];
        for (int k = 0; k < v.length; k++) {
          v[k] = value();
        }
        g.addInitializer(Graphs.longs(n, dims, v));
      }
      return n;
    }

    String pick(String in) {
      return switch (d.consumeInt(0, 3)) {
        case 0 -> in;
        case 1 -> "x";
        case 2 -> operand(false);
        default -> operand(true);
      };
    }

    String node(String op, String in) {
      String out = name();
      List<String> ins = new ArrayList<>();
      List<Onnx.AttributeProto> attrs = new ArrayList<>();
      switch (op) {
        case "Mod" -> {
          ins.add(pick(in));
          ins.add(pick(in));
          if (d.consumeBoolean()) {
            attrs.add(Graphs.i("fmod", d.consumeBoolean() ? d.consumeInt(0, 1) : value()));
          }
        }
        case "Not", "Shape" -> ins.add(in);
        case "Range" -> {
          ins.add(pick(in));
          ins.add(pick(in));
          ins.add(pick(in));
        }
        case "ScatterND" -> {
          ins.add(pick(in));
          ins.add(d.consumeBoolean() ? operand(false) : pick(in));
          ins.add(pick(in));
          if (d.consumeBoolean()) {
            attrs.add(Graphs.s("reduction", d.pickValue(new String[] {"none", "add", "mul", "max", ""})));
          }
        }
        case "Equal" -> {
          ins.add(in);
          ins.add(pick(in));
        }
        case "Cast" -> {
          ins.add(in);
          attrs.add(Graphs.i("to", d.pickValue(new long[] {1, 6, 7, 9, 11})));
        }
        default -> throw new IllegalArgumentException(op);
      }
      g.addNode(Graphs.node(op, ins, List.of(out), attrs.toArray(new Onnx.AttributeProto[0])));
      return out;
    }
  }
}
