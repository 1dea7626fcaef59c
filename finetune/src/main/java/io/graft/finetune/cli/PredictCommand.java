package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.Npy;
import io.graft.core.ops.ShapeOps;
import io.graft.finetune.data.ImageFiles;
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
 * graph imported as a whole ({@code --onnx}); or, with {@code --images}, the top-k class names and probabilities of
 * image files (see {@link ImagePredictions}), preprocessed as recorded with the weights ({@link Preprocess}; an
 * explicit {@code --image-size} that differs is refused), else, with a warning, as {@code graft eval} preprocesses
 * an ImageFolder's test images.
 *
 * <p>Class names for {@code --images}: {@code --classes FILE} when given; else those saved in the weights'
 * safetensors metadata; else a {@code classes.json} beside the weights; else the class indices, with a warning.
 * {@code --classes} must have as many names as the model has outputs, and as many as the weights' own names when
 * they have some (it may rename, not renumber).
 *
 * <p>With {@code --spark-master URL}, the images of {@code --data} are predicted on Apache Spark and written as
 * Parquet to the folder {@code --out}: everything is resolved here as for {@code --images}, then handed to
 * graft-spark through {@link SparkPredictRunner}.
 */
@Command(name = "predict", mixinStandardHelpOptions = true,
    description = "Eval-mode logits of a zoo model (--model with --weights) or of an ONNX graph (--onnx) for a "
        + ".npy array, written as .npy; or, with --images, each image's top-k classes and probabilities (softmax), "
        + "printed and written to --out .csv or .json. Class names come from --classes FILE, else the weights' "
        + "metadata, else classes.json beside the weights, else are the class indices.")
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

  @Option(names = "--input", description = "input .npy, float32 (N, C, H, W) with the model's "
      + "channels and sizes: (N, 3, H, W) for most, (N, 1, 28, 28) for smallcnn; an ONNX graph's declared shape")
  Path input;

  @Option(names = "--images", arity = "1..*", paramLabel = "DIR|FILE",
      description = "image files and folders (searched recursively for .jpg, .jpeg, .png, .bmp, .gif, .webp), "
          + "instead of --input; resized, centre-cropped and normalised as graft eval does")
  List<Path> images;

  @Option(names = "--top-k", defaultValue = "5", description = "with --images: classes per image (all classes when the model "
      + "has fewer)")
  int topK;

  @Option(names = "--classes", paramLabel = "FILE",
      description = "with --images: a class-names file (a JSON list, as classes.json, or one name per line), "
          + "instead of the names the weights carry")
  Path classesFile;

  @Option(names = "--image-size", defaultValue = "224", description = "with --images: crop size for 3-channel "
      + "models (an ONNX graph's declared size wins); weights that record their preprocessing use theirs, and a "
      + "different --image-size is refused")
  int imageSize;

  @Option(names = "--out", description = "with --input: output .npy for the (N, classes) float32 logits (required);"
      + " with --images: predictions as .csv or .json (optional)")
  Path output;

  @Option(names = "--batch-size", defaultValue = "32", description = "images per forward pass")
  int batchSize;

  @Option(names = "--spark-master", paramLabel = "URL", description = "run on Apache Spark (local[N], "
      + "spark://HOST:PORT, yarn, ...) over the images of --data, writing Parquet to the folder --out; needs "
      + "graft-spark on the class path (the distribution has it)")
  String sparkMaster;

  @Option(names = "--data", paramLabel = "DIR", description = "with --spark-master: a folder (searched recursively "
      + "for .jpg, .jpeg, .png, .bmp, .gif, .webp) or glob of images on storage every executor reads (a shared path, "
      + "hdfs://, s3a://)")
  String data;

  @Spec
  CommandSpec spec;

  /** graft-spark's runner, found when {@code --spark-master} is given. */
  private SparkPredictRunner sparkRunner;

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
    if (sparkMaster != null) {
      if (input != null || images != null || data == null || output == null) {
        throw new GraftException("--spark-master predicts on the images of --data DIR and writes them to --out DIR "
            + "(not --input or --images)");
      }
      sparkRunner = SparkPredictRunner.find(); // before any work: say at once when graft-spark is missing
      return predictImages();
    }
    if (data != null) {
      throw new GraftException("--data DIR is read by Spark (with --spark-master URL); on this machine alone give "
          + "--images DIR|FILE...");
    }
    if ((input == null) == (images == null)) {
      throw new GraftException("give --input FILE.npy (logits to .npy) or --images DIR|FILE... (class names and "
          + "probabilities), not " + (input == null ? "neither" : "both"));
    }
    if (images != null) {
      return predictImages();
    }
    if (classesFile != null) {
      throw new GraftException("--classes names the classes of --images predictions; --input writes logits only");
    }
    if (output == null) {
      throw new GraftException("--input needs --out FILE.npy for the logits");
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

  /** {@code --images}: top-k class names and probabilities per image. */
  private int predictImages() {
    if (topK < 1) {
      throw new GraftException("--top-k must be positive, got " + topK);
    }
    if (output != null && sparkMaster == null) {
      ImagePredictions.format(output); // refuse a bad extension before any work
    }
    Integer explicitSize = spec.commandLine().getParseResult().hasMatchedOption("--image-size") ? imageSize : null;
    Module m;
    String name;
    int size = imageSize;
    java.util.function.Function<Tensor, Tensor> forward;
    if (onnx != null) {
      if (model != null || numClasses != null) {
        throw new GraftException("--onnx runs the file's own graph: leave out --model and --num-classes");
      }
      OnnxClassifier c = ModelLoading.loadOnnx(onnx, weights);
      size = ModelLoading.onnxImageSize(c, imageSize);
      m = c;
      name = "onnx:" + onnx.getFileName();
      long fixed = staticBatch(c.backbone()); // a graph with a fixed batch runs in (padded) chunks of it
      if (fixed > 0 && sparkMaster != null && (fixed != 1 || batchSize != 1)) {
        throw new GraftException(onnx + ": the graph takes batches of exactly " + fixed + "; with --spark-master, "
            + "whose partitions end in shorter batches that are not padded, " + (fixed == 1 ? "give --batch-size 1 "
            + "or " : "") + "export the graph with a free batch size");
      }
      long chunk = fixed > 0 ? fixed : batchSize;
      OnnxModel fixedGraph = fixed > 0 ? c.backbone() : null;
      forward = x -> chunked(c::call, x, chunk, fixedGraph);
    } else {
      if (model == null || weights == null) {
        throw new GraftException("give --model with --weights, or --onnx FILE [--weights FILE]");
      }
      if (!Zoo.names().contains(model)) {
        throw new GraftException("unknown model '" + model + "'; known: " + Zoo.names());
      }
      m = ModelLoading.load(model, weights, numClasses);
      name = model;
      forward = m::call;
    }
    m.eval();
    long outputs = m instanceof io.graft.zoo.models.Classifier c ? c.head().outFeatures() : -1;
    List<String> names = classNames(outputs);
    Preprocess assumed = DataSource.imageEvalPreprocess(name, size);
    Preprocess recorded = Preprocess.forWeights(weights == null ? null : weights.toString(), explicitSize, assumed,
        spec.commandLine().getErr());
    Preprocess pre = recorded != null ? recorded : assumed;
    if (sparkMaster != null) {
      return sparkRunner.run(new SparkPredictRunner.Request(sparkMaster, data, output, model, weights, onnx, numClasses,
          names, pre.transform(), pre.channels(), topK, batchSize), spec.commandLine().getOut(),
          spec.commandLine().getErr());
    }
    ImageFiles files = ImageFiles.of(images, names, pre.channels());
    List<ImagePredictions.Row> rows = ImagePredictions.run(forward, files, pre.transform(), batchSize, topK,
        weights != null ? weights.toString() : name);
    var out = spec.commandLine().getOut();
    ImagePredictions.print(rows, names, out);
    if (output != null) {
      ImagePredictions.write(output, rows, names);
      out.printf("%s: %d images, top-%d of %d classes -> %s%n", name, rows.size(), Math.min(topK, names.size()),
          names.size(), output);
      out.flush();
    }
    return 0;
  }

  /**
   * The class names for {@code --images} (see the class comment); {@code outputs} is the model's number of
   * outputs, or -1 when only the first batch will tell (an ONNX graph without a recognised head).
   */
  private List<String> classNames(long outputs) {
    List<String> saved = weights == null ? null : ClassNames.saved(weights);
    String from = weights + " (metadata '" + ClassNames.KEY + "')";
    if (saved == null && weights != null) {
      Path beside = weights.toAbsolutePath().resolveSibling(ClassNames.FILE);
      if (java.nio.file.Files.isRegularFile(beside)) {
        saved = ClassNames.read(beside);
        from = beside.toString();
      }
    }
    List<String> names = saved;
    if (classesFile != null) {
      List<String> given = ClassNames.read(classesFile);
      if (saved != null && given.size() != saved.size()) {
        throw new GraftException("--classes " + classesFile + " has " + given.size() + " class names, but " + from
            + " has " + saved.size() + " " + saved);
      }
      names = given;
      from = "--classes " + classesFile;
    }
    if (names == null) {
      if (outputs < 0) {
        throw new GraftException((onnx != null ? onnx : weights) + ": no class names (none saved with the weights, "
            + "no " + ClassNames.FILE + " beside them) and the number of outputs is not known before running; give "
            + "--classes FILE");
      }
      var err = spec.commandLine().getErr();
      err.println("graft: warning: " + weights + " carries no class names and has no " + ClassNames.FILE + " beside "
          + "it; the classes are named by their indices 0-" + (outputs - 1) + " (give --classes FILE to name them)");
      err.flush();
      names = new ArrayList<>();
      for (long i = 0; i < outputs; i++) {
        names.add(Long.toString(i));
      }
      return names;
    }
    if (outputs >= 0 && names.size() != outputs) {
      throw new GraftException(from + " has " + names.size() + " class names, but the model has " + outputs
          + " outputs");
    }
    return names;
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
