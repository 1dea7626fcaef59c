package io.graft.finetune.cli;

import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.TensorBytes;
import io.graft.zoo.weights.Weights;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code graft inspect FILE}: every tensor's name, shape and dtype, and totals. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
    description = "List every tensor (name, shape, dtype) of a .pth, .safetensors or .onnx file, with totals.")
final class InspectCommand implements Callable<Integer> {
  @Parameters(paramLabel = "FILE", description = "weights file")
  Path file;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    Weights.Format format = Weights.detect(file);
    Weights.Stored stored = Weights.readStored(file);
    StateDict sd = stored.tensors();
    var out = spec.commandLine().getOut();
    int width = sd.keys().stream().mapToInt(String::length).max().orElse(4);
    long elements = 0;
    long bytes = 0;
    for (Map.Entry<String, Tensor> e : sd) {
      Tensor t = e.getValue();
      String dtype = stored.dtypes().getOrDefault(e.getKey(), TensorBytes.dtypeName(t.dtype()));
      out.printf("%-" + width + "s  %-20s %s%n", e.getKey(), Arrays.toString(t.shape()), dtype);
      elements += t.numel();
      bytes += t.numel() * bytesPerElement(dtype);
    }
    out.printf("%s: %s, %,d tensors, %,d elements, %,d bytes%n", file, format, sd.size(), elements, bytes);
    return 0;
  }

  /** Bytes per element as stored, including ONNX's unsigned types (which Graft reads widened to signed ones). */
  private static int bytesPerElement(String dtype) {
    return switch (dtype) {
      case "U16" -> 2;
      case "U32" -> 4;
      case "U64" -> 8;
      default -> TensorBytes.elementSize(dtype);
    };
  }
}
