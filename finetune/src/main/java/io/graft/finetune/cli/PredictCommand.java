package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.Npy;
import io.graft.core.ops.ShapeOps;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import io.graft.zoo.onnx.OnnxModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.buffer.DataType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code graft predict}: eval-mode outputs for an NCHW .npy batch, of a zoo model with weights, or of an ONNX
 * graph imported as a whole ({@code --onnx}).
 */
@Command(name = "predict", mixinStandardHelpOptions = true,
    description = "Eval-mode logits of a zoo model (--model with --weights) or of an ONNX graph (--onnx) for a "
        + ".npy array, written as .npy.")
final class PredictCommand implements Callable<Integer> {
  @Option(names = "--model", description = "architecture, e.g. resnet18 (${COMPLETION-CANDIDATES})",
      completionCandidates = ModelNames.class)
  String model;

  @Option(names = "--weights", description = "a .pth, .safetensors or .onnx (PRESERVE export) file for --model")
  Path weights;

  @Option(names = "--onnx", description = "an ONNX model run as its own graph (any export, fused BatchNorm "
      + "included); its first output is written")
  Path onnx;

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
    if (onnx != null) {
      if (model != null || weights != null || numClasses != null) {
        throw new GraftException("--onnx runs the file's own graph: leave out --model, --weights and --num-classes");
      }
      return predictOnnx();
    }
    if (model == null || weights == null) {
      throw new GraftException("give --model with --weights, or --onnx FILE");
    }
    if (!Zoo.names().contains(model)) {
      throw new GraftException("unknown model '" + model + "'; known: " + Zoo.names());
    }
    Tensor x = Npy.read(input);
    NonFiniteInput.warn(x, input, spec.commandLine().getErr());
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

  /** The whole input in batches of --batch-size when the graph's batch dimension is free, else in one pass. */
  private int predictOnnx() {
    OnnxModel m = OnnxModel.load(onnx);
    if (m.inputNames().size() != 1) {
      throw new GraftException(onnx + ": the graph has " + m.inputNames().size() + " inputs " + m.inputNames()
          + "; graft predict feeds one");
    }
    m.eval();
    Tensor x = Npy.read(input);
    NonFiniteInput.warn(x, input, spec.commandLine().getErr());
    long[] declared = m.inputShape(m.inputNames().get(0));
    if (x.dtype() != DataType.FLOAT && x.dtype().isFPType() && m.inputType(m.inputNames().get(0)) == DataType.FLOAT) {
      x = x.to(DataType.FLOAT);
    }
    boolean freeBatch = declared == null || (declared.length > 0 && declared[0] < 0);
    long n = x.rank() == 0 ? 1 : x.shape()[0];
    List<Tensor> outs = new ArrayList<>();
    try (var g = GradMode.disabled()) {
      if (!freeBatch || x.rank() == 0 || n <= batchSize) {
        outs.add(m.call(x));
      } else {
        for (long i = 0; i < n; i += batchSize) {
          outs.add(m.call(ShapeOps.slice(x, 0, i, Math.min(n, i + batchSize), 1)));
        }
      }
    }
    Tensor y = outs.size() == 1 ? outs.get(0) : ShapeOps.cat(0, outs.toArray(Tensor[]::new));
    Npy.write(output, y);
    spec.commandLine().getOut().printf("%s (%s): %s -> %s %s%n", onnx.getFileName(), m.outputNames().get(0),
        java.util.Arrays.toString(x.shape()), output, java.util.Arrays.toString(y.shape()));
    return 0;
  }
}
