package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.train.Evaluation;
import io.graft.layers.Module;
import io.graft.layers.loss.CrossEntropyLoss;
import io.graft.zoo.models.Classifier;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code graft eval}: accuracy, top-5, per-class accuracy and confusion matrix of weights on a test set. */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = "Evaluate weights on the test images of --data: loss, top-1, top-5, per-class accuracy, confusion. "
        + "Class folders are matched by name to the class names saved in the weights (graft finetune saves them), "
        + "else to train/'s folders. Images are preprocessed as recorded with the weights (graft finetune records "
        + "it), else as the data source's evaluation transform.")
final class EvalCommand implements Callable<Integer> {
  @Option(names = "--model", description = "zoo architecture, e.g. resnet18 or smallcnn")
  String model;

  @Option(names = "--onnx", description = "an ONNX classifier; with --weights, the safetensors that "
      + "'graft finetune --onnx' wrote")
  java.nio.file.Path onnx;

  @Option(names = "--weights", description = "a .pth, .safetensors or .onnx file, or 'imagenet'")
  String weights;

  @Option(names = "--data", required = true, description = "fashion-mnist:DIR, mnist:DIR or an ImageFolder root")
  String data;

  @Option(names = "--classes", description = "the classes the model was trained on, e.g. 5-9")
  String classes;

  @Option(names = "--image-size", defaultValue = "224", description = "crop size for 3-channel models; weights "
      + "that record their preprocessing use theirs, and a different --image-size is refused")
  int imageSize;

  @Option(names = "--batch-size", defaultValue = "128", description = "images per forward pass")
  int batchSize;

  @Option(names = "--workers", defaultValue = "2", paramLabel = "N", description = "background threads decoding "
      + "images (0: on the evaluating thread)")
  int workers;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    if (batchSize < 1 || workers < 0) {
      throw new GraftException("--batch-size must be positive and --workers not negative; got --batch-size "
          + batchSize + " --workers " + workers);
    }
    Integer explicitSize = spec.commandLine().getParseResult().hasMatchedOption("--image-size") ? imageSize : null;
    Module m;
    if (onnx != null) {
      if (model != null) {
        throw new io.graft.core.GraftException("give --onnx or --model, not both");
      }
      io.graft.zoo.onnx.OnnxClassifier c = ModelLoading.loadOnnx(onnx, weights == null ? null
          : java.nio.file.Path.of(weights));
      imageSize = ModelLoading.onnxImageSize(c, imageSize);
      model = "onnx:" + onnx.getFileName();
      m = c;
    } else {
      if (model == null || weights == null) {
        throw new io.graft.core.GraftException("give --model with --weights, or --onnx FILE [--weights FILE]");
      }
      m = ModelLoading.load(model, ModelLoading.resolve(model, weights), null);
    }
    List<String> saved = weights == null || weights.equals("imagenet") ? null
        : ClassNames.saved(java.nio.file.Path.of(weights));
    Preprocess recorded = Preprocess.forWeights(weights, explicitSize, null, null);
    DataSource ds = DataSource.open(data, classes, null, model, imageSize, 0, saved,
        Augment.defaultFor(false, model.equals("smallcnn")), recorded);
    List<String> names = ds.test().classes();
    long head = m instanceof Classifier c ? c.head().outFeatures() : names.size();
    if (head != names.size()) {
      throw new GraftException(weights + ": the model's head has " + head + " outputs, but --data " + data
          + (classes == null ? "" : " --classes " + classes) + " has " + names.size() + " classes " + names);
    }
    List<String> missing = ds.missing().get(ds.testSplit());
    if (missing != null) {
      spec.commandLine().getErr().println("graft: warning: the test images have no folder for class(es) " + missing
          + " of " + names + "; labels are mapped by name, and those classes have no accuracy");
      spec.commandLine().getErr().flush();
    }
    Evaluation e;
    try (DataLoader te = new DataLoader(ds.test(), ds.evalTransform(), DataLoader.Options.batch(batchSize)
        .withWorkers(workers))) {
      e = Evaluation.of(m, te, new CrossEntropyLoss(), ds.test().numClasses());
    }
    var out = spec.commandLine().getOut();
    out.printf("%s on %d images: loss %.4f, top-1 %.2f%%, top-5 %.2f%%%n", model, e.count(), e.loss(), e.top1(),
        e.top5());
    for (int c = 0; c < e.perClassAccuracy().length; c++) {
      StringBuilder row = new StringBuilder();
      for (long v : e.confusion()[c]) {
        row.append(String.format("%6d", v));
      }
      double a = e.perClassAccuracy()[c];
      out.printf("  %-14s %s |%s%n", names.get(c), Double.isNaN(a) ? "     -  " : String.format("%6.2f%%", a), row);
    }
    return 0;
  }
}
