package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.io.Safetensors;
import io.graft.zoo.weights.Weights;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code graft convert IN OUT}: a .pth / .onnx / .safetensors file to .safetensors with the same names. */
@Command(name = "convert", mixinStandardHelpOptions = true,
    description = "Convert .pth or .onnx weights (initializers) to .safetensors, keeping names and dtypes (float16 and "
        + "bfloat16 included; ONNX's unsigned integers become the next wider signed type); written atomically.")
final class ConvertCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "IN", description = "a .pth, .onnx or .safetensors file")
  Path in;

  @Parameters(index = "1", paramLabel = "OUT", description = "the .safetensors file to write")
  Path out;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    if (!out.getFileName().toString().endsWith(".safetensors")) {
      throw new GraftException("OUT must end in .safetensors, got " + out);
    }
    if (out.toAbsolutePath().normalize().equals(in.toAbsolutePath().normalize())) {
      throw new GraftException("IN and OUT are the same file: " + in);
    }
    StateDict sd = Weights.readStored(in).asStored(); // float16/bfloat16 stay as they were
    Safetensors.write(out, sd, Map.of("source", in.getFileName().toString(), "converted_by", "graft"));
    spec.commandLine().getOut().printf("%s -> %s (%d tensors)%n", in, out, sd.size());
    return 0;
  }
}
