package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.Npy;
import io.graft.core.ops.ShapeOps;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import io.graft.zoo.onnx.OnnxClassifier;
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

  @Option(names = "--weights", description = "a .pth, .safetensors or .onnx (PRESERVE export) file for --model; with "
      + "--onnx, the safetensors that 'graft finetune --onnx' wrote")
  Path weights;

  @Option(names = "--onnx", description = "an ONNX model run as its own graph (any export, fused BatchNorm "
      + "included); its first output is written")
  Path onnx;

  @Option(names = "--num-classes", description = "classes of the head (default: read from the weights)")
  Integer numClasses;

  @Option(names = "--input", required = true, description = "input .npy, float32 (N, C, H, W) with the model's "
      + "channels and sizes: (N, 3, H, W) for most, (N, 1, 28, 28) for smallcnn; an ONNX graph's declared shape")
  Path input;

  @Option(names = "--out", required = true, description = "output .npy for the (N, classes) float32 logits")
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
      if (model != null || numClasses != null) {
        throw new GraftException("--onnx runs the file's own graph: leave out --model and --num-classes (--weights "
            + "may give the safetensors that 'graft finetune --onnx' wrote)");
      }
      return weights == null ? predictOnnx() : predictFineTunedOnnx();
    }
    if (model == null || weights == null) {
      throw new GraftException("give --model with --weights, or --onnx FILE [--weights FILE]");
    }
    if (!Zoo.names().contains(model)) {
      throw new GraftException("unknown model '" + model + "'; known: " + Zoo.names());
    }
    List<String> saved = ClassNames.saved(weights);
    if (saved != null && numClasses != null && numClasses != saved.size()) {
      throw new GraftException("--num-classes " + numClasses + ", but " + weights + " was trained on " + saved.size()
          + " classes " + saved);
    }
    Tensor x = floats(Npy.read(input));
    NonFiniteInput.warn(x, input, spec.commandLine().getErr());
    long[] want = Zoo.inputShape(model);
    boolean ok = x.rank() == 4;
    for (int k = 0; ok && k < 3; k++) {
      ok = want[k] < 0 || x.shape()[k + 1] == want[k];
    }
    if (!ok) {
      throw new GraftException(input + ": " + model + " takes an (N, " + dim(want[0], "C") + ", " + dim(want[1], "H")
          + ", " + dim(want[2], "W") + ") array, got shape " + java.util.Arrays.toString(x.shape()));
    }
    Module m = ModelLoading.load(model, weights, numClasses);
    m.eval();
    Tensor logits = chunked(m::call, x, batchSize, null);
    Npy.write(output, logits);
    spec.commandLine().getOut().printf("%s: %d images -> %s %s%s%n", model, x.shape()[0], output,
        java.util.Arrays.toString(logits.shape()), saved == null ? "" : "; classes " + saved);
    return 0;
  }

  private static String dim(long d, String free) {
    return d < 0 ? free : String.valueOf(d);
  }

  private Tensor floats(Tensor x) {
    if (x.dtype() != DataType.FLOAT) {
      if (!x.dtype().isFPType()) {
        throw new GraftException(input + ": expected float32 values, got " + x.dtype());
      }
      x = x.to(DataType.FLOAT);
    }
    return x;
  }

  /**
   * {@code f} over {@code x} in chunks of {@code chunk} rows along the batch dimension, outputs concatenated; every
   * chunk's output must have one row per input row. With {@code fixed} (a graph whose batch size is fixed), a short
   * last chunk is padded with zero rows to the full chunk and only its own rows of the output are kept, unless the
   * graph mixes the rows of a batch (batch-statistics BatchNormalization), where padding would change the real rows.
   */
  private Tensor chunked(java.util.function.Function<Tensor, Tensor> f, Tensor x, long chunk, OnnxModel fixed) {
    long n = x.shape()[0];
    if (fixed != null && n % chunk != 0 && fixed.mixesBatchRows()) {
      throw new GraftException(onnx + ": the graph takes batches of exactly " + chunk + " and normalises with "
          + "batch statistics (BatchNormalization in training mode), so a short last batch cannot be padded "
          + "without changing its results; give a multiple of " + chunk + " inputs (got " + n + ")");
    }
    List<Tensor> outs = new ArrayList<>();
    try (var g = GradMode.disabled()) {
      for (long i = 0; i < n; i += chunk) {
        long end = Math.min(n, i + chunk);
        boolean pad = fixed != null && end - i < chunk;
        Tensor part = n <= chunk && i == 0 && fixed == null ? x : ShapeOps.slice(x, 0, i, end, 1);
        if (pad) {
          long[] zs = x.shape().clone();
          zs[0] = chunk - (end - i);
          part = ShapeOps.cat(0, part, Tensor.zeros(zs).to(x.dtype()));
        }
        Tensor y = f.apply(part);
        boolean split = n > chunk || pad;
        if (split && (y.rank() == 0 || y.shape()[0] != part.shape()[0])) {
          throw new GraftException((onnx != null ? onnx : model) + ": the output has shape "
              + java.util.Arrays.toString(y.shape()) + ", not one row per input row (" + part.shape()[0]
              + "), so the input cannot be run in batches of " + chunk + "; give " + chunk + " inputs at most"
              + (fixed != null ? ", a multiple of " + chunk : ""));
        }
        if (pad) {
          y = ShapeOps.slice(y, 0, 0, end - i, 1);
        }
        outs.add(y);
      }
    }
    return outs.size() == 1 ? outs.get(0) : ShapeOps.cat(0, outs.toArray(Tensor[]::new));
  }

  /** The batch size a graph input declares (its first dimension), or -1 when it is free or not declared. */
  private static long staticBatch(OnnxModel m) {
    long[] declared = m.inputShape(m.inputNames().get(0));
    return declared != null && declared.length > 0 && declared[0] > 0 ? declared[0] : -1;
  }

  /**
   * The whole input in batches of --batch-size when the graph's batch dimension is free; when the file fixes it
   * (a default {@code torch.onnx.export} fixes it at the traced batch, often 1), in chunks of that size, the last
   * one padded.
   */
  private int predictOnnx() {
    OnnxModel m = OnnxModel.load(onnx);
    if (m.inputNames().size() != 1) {
      throw new GraftException(onnx + ": the graph has " + m.inputNames().size() + " inputs " + m.inputNames()
          + "; graft predict feeds one");
    }
    m.eval();
    Tensor x = Npy.read(input);
    NonFiniteInput.warn(x, input, spec.commandLine().getErr());
    if (x.dtype() != DataType.FLOAT && x.dtype().isFPType() && m.inputType(m.inputNames().get(0)) == DataType.FLOAT) {
      x = x.to(DataType.FLOAT);
    }
    long fixed = staticBatch(m);
    Tensor y;
    if (x.rank() == 0) {
      try (var g = GradMode.disabled()) {
        y = m.call(x);
      }
    } else {
      y = chunked(m::call, x, fixed > 0 ? fixed : batchSize, fixed > 0 ? m : null);
    }
    Npy.write(output, y);
    spec.commandLine().getOut().printf("%s (%s): %s -> %s %s%s%n", onnx.getFileName(), m.outputNames().get(0),
        java.util.Arrays.toString(x.shape()), output, java.util.Arrays.toString(y.shape()),
        fixed > 0 && x.rank() > 0 && x.shape()[0] != fixed ? " (in chunks of the graph's fixed batch " + fixed + ")"
            : "");
    return 0;
  }

  /** An ONNX classifier with the fine-tuned head and weights that {@code graft finetune --onnx} wrote. */
  private int predictFineTunedOnnx() {
    OnnxClassifier c = ModelLoading.loadOnnx(onnx, weights);
    c.eval();
    List<String> saved = ClassNames.saved(weights);
    Tensor x = floats(Npy.read(input));
    long[] declared = c.backbone().inputShape(c.backbone().inputNames().get(0));
    if (declared != null && (x.rank() != declared.length || x.rank() == 0)) {
      throw new GraftException(input + ": " + onnx.getFileName() + " takes a rank-" + declared.length + " input "
          + java.util.Arrays.toString(declared) + " (-1: any size), got shape " + java.util.Arrays.toString(x.shape()));
    }
    long fixed = staticBatch(c.backbone());
    Tensor y = chunked(c::call, x, fixed > 0 ? fixed : batchSize, fixed > 0 ? c.backbone() : null);
    Npy.write(output, y);
    spec.commandLine().getOut().printf("%s + %s: %s -> %s %s%s%n", onnx.getFileName(), weights.getFileName(),
        java.util.Arrays.toString(x.shape()), output, java.util.Arrays.toString(y.shape()),
        saved == null ? "" : "; classes " + saved);
    return 0;
  }
}
