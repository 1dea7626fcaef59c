package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.Npy;
import io.graft.core.ops.ShapeOps;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.buffer.DataType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code graft predict}: eval-mode logits of a zoo model for an NCHW float32 .npy batch. */
@Command(name = "predict", mixinStandardHelpOptions = true,
    description = "Eval-mode logits of a zoo model for an (N, 3, H, W) float32 .npy array, written as .npy.")
final class PredictCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, description = "architecture, e.g. resnet18 (${COMPLETION-CANDIDATES})",
      completionCandidates = ModelNames.class)
  String model;

  @Option(names = "--weights", required = true, description = "a .pth, .safetensors or .onnx (PRESERVE export) file")
  Path weights;

  @Option(names = "--num-classes", description = "classes of the head (default: read from the weights)")
  Integer numClasses;

  @Option(names = "--input", required = true, description = "input .npy, float32 (N, 3, H, W)")
  Path input;

  @Option(names = "--output", required = true, description = "output .npy for the (N, classes) float32 logits")
  Path output;

  @Option(names = "--batch-size", defaultValue = "32", description = "images per forward pass (default ${DEFAULT-VALUE})")
  int batchSize;

  @Spec
  CommandSpec spec;

  /** picocli completion candidates: the zoo's names. */
  static final class ModelNames extends ArrayList<String> {
    ModelNames() {
      super(Zoo.names());
    }
  }

  @Override
  public Integer call() {
    if (batchSize < 1) {
      throw new GraftException("--batch-size must be positive, got " + batchSize);
    }
    if (!Zoo.names().contains(model)) {
      throw new GraftException("unknown model '" + model + "'; known: " + Zoo.names());
    }
    Tensor x = Npy.read(input);
    if (x.rank() != 4 || x.shape()[1] != 3) {
      throw new GraftException(input + ": expected an (N, 3, H, W) array, got shape "
          + java.util.Arrays.toString(x.shape()));
    }
    if (x.dtype() != DataType.FLOAT) {
      if (!x.dtype().isFPType()) {
        throw new GraftException(input + ": expected float32 values, got " + x.dtype());
      }
      x = x.to(DataType.FLOAT);
    }
    Module m = ModelLoading.load(model, weights, numClasses);
    m.eval();
    List<Tensor> outs = new ArrayList<>();
    long n = x.shape()[0];
    try (var g = GradMode.disabled()) {
      for (long i = 0; i < n; i += batchSize) {
        outs.add(m.call(ShapeOps.slice(x, 0, i, Math.min(n, i + batchSize), 1)));
      }
    }
    Tensor logits = outs.size() == 1 ? outs.get(0) : ShapeOps.cat(0, outs.toArray(Tensor[]::new));
    Npy.write(output, logits);
    spec.commandLine().getOut().printf("%s: %d images -> %s %s%n", model, n, output,
        java.util.Arrays.toString(logits.shape()));
    return 0;
  }
}
