package io.graft.zoo.onnx;

import io.graft.core.autograd.GradMode;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.zoo.onnx.proto.Onnx;
import io.graft.zoo.weights.OnnxWeights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The ONNX project's backend test data (Debian package {@code libonnx-testdata}): each case is a folder with
 * {@code model.onnx} and {@code test_data_set_N/input_K.pb, output_K.pb}. Runs a case through {@link OnnxModel}
 * and compares with the ONNX backend tests' default tolerances (rtol 1e-3, atol 1e-7).
 */
final class BackendCases {
  private BackendCases() {}

  static final Path ROOT = Paths.get(System.getProperty("graft.onnx.testdata",
      "/usr/lib/python3/dist-packages/onnx/backend/test/data"));

  static List<Path> cases(String suite) throws IOException {
    Path dir = ROOT.resolve(suite);
    if (!Files.isDirectory(dir)) {
      throw new IllegalStateException("ONNX backend test data not found at " + dir + ": install the Debian package "
          + "libonnx-testdata (.ci/run does) or point -Dgraft.onnx.testdata at a copy of onnx/backend/test/data");
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> Files.isRegularFile(p.resolve("model.onnx"))).sorted().toList();
    }
  }

  /** Operator types of a case's model (the unsupported ones decide whether the case applies). */
  static List<String> operators(Path c) {
    List<String> ops = new ArrayList<>();
    for (Onnx.NodeProto n : OnnxWeights.model(c.resolve("model.onnx")).getGraph().getNodeList()) {
      ops.add(n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx") ? n.getOpType()
          : n.getDomain() + "." + n.getOpType());
    }
    return ops;
  }

  /** Runs every data set of a case; null when all outputs match, else the first reason it does not. */
  static String run(Path c) throws IOException {
    OnnxModel m = OnnxModel.load(c.resolve("model.onnx"));
    m.eval();
    List<Path> sets;
    try (Stream<Path> s = Files.list(c)) {
      sets = s.filter(p -> p.getFileName().toString().startsWith("test_data_set_")).sorted().toList();
    }
    for (Path set : sets) {
      Map<String, Tensor> inputs = new LinkedHashMap<>();
      for (int k = 0; k < m.inputNames().size(); k++) {
        inputs.put(m.inputNames().get(k), read(set.resolve("input_" + k + ".pb")));
      }
      Map<String, Tensor> out;
      try (GradMode.Scope g = GradMode.disabled()) {
        out = m.run(inputs, m.outputNames());
      }
      for (int k = 0; k < m.outputNames().size(); k++) {
        Path f = set.resolve("output_" + k + ".pb");
        if (!Files.exists(f)) {
          continue;
        }
        String why = compare(out.get(m.outputNames().get(k)), read(f));
        if (why != null) {
          return set.getFileName() + " output " + k + ": " + why;
        }
      }
    }
    return null;
  }

  static Tensor read(Path pb) throws IOException {
    Onnx.TensorProto t = Onnx.TensorProto.parseFrom(Files.readAllBytes(pb));
    return OnnxWeights.tensor(t, pb.getParent(), pb.toString());
  }

  static String compare(Tensor actual, Tensor expected) {
    if (!java.util.Arrays.equals(actual.shape(), expected.shape())) {
      return "shape " + Shapes.str(actual.shape()) + ", expected " + Shapes.str(expected.shape());
    }
    if (actual.dtype() != expected.dtype()) {
      return "dtype " + actual.dtype() + ", expected " + expected.dtype();
    }
    if (actual.numel() == 0) {
      return null;
    }
    double[] a = actual.data().castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).dup('c')
        .reshape(actual.numel()).toDoubleVector();
    double[] e = expected.data().castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).dup('c')
        .reshape(expected.numel()).toDoubleVector();
    for (int i = 0; i < a.length; i++) {
      boolean ok = Double.isNaN(e[i]) ? Double.isNaN(a[i])
          : a[i] == e[i] || Math.abs(a[i] - e[i]) <= 1e-7 + 1e-3 * Math.abs(e[i]);
      if (!ok) {
        return "element " + i + " is " + a[i] + ", expected " + e[i];
      }
    }
    return null;
  }
}
