package io.graft.finetune.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.graft.core.GraftException;
import io.graft.core.init.Init;
import io.graft.core.io.AtomicFiles;
import io.graft.core.io.Safetensors;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.recipe.FineTune;
import io.graft.finetune.recipe.Strategy;
import io.graft.finetune.train.Evaluation;
import io.graft.finetune.train.History;
import io.graft.finetune.train.MetricsLog;
import io.graft.finetune.train.Trainer;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code graft finetune}: the whole workflow from the command line. */
@Command(name = "finetune", mixinStandardHelpOptions = true,
    description = "Fine-tune a zoo model on new classes: new head, freezing strategy, discriminative learning rates,"
        + " validation every epoch; writes metrics.json, the best weights (safetensors, torchvision names), the "
        + "metrics log, the learning curve and a checkpoint to --out.")
final class FinetuneCommand implements Callable<Integer> {
  @Option(names = "--model", description = "zoo architecture, e.g. resnet18 or smallcnn")
  String model;

  @Option(names = "--onnx", description = "an ONNX classifier instead of --model/--weights: its graph up to the last "
      + "Gemm is the backbone, a new head replaces that Gemm")
  Path onnx;

  @Option(names = "--weights", description = "pretrained weights: a .pth/.safetensors/.onnx file, or 'imagenet'")
  String weights;

  @Option(names = "--data", required = true, description = "fashion-mnist:DIR, mnist:DIR or an ImageFolder root")
  String data;

  @Option(names = "--classes", description = "classes to use, e.g. 5-9 or 0,2,4 (relabelled from 0)")
  String classes;

  @Option(names = "--per-class", description = "training images per class (the first N in file order of the "
      + "training part; for IDX data 10% of the selected classes' training images are split off first for validation)")
  Integer perClass;

  @Option(names = "--strategy", defaultValue = "full",
      description = "scratch | feature-extract | last-K (e.g. last-2) | full | gradual (one more stage per epoch from "
          + "the top) | gradual:EPOCH=STAGE,... (default ${DEFAULT-VALUE})")
  String strategy;

  @Option(names = "--epochs", defaultValue = "10")
  int epochs;

  @Option(names = "--batch", defaultValue = "32")
  int batch;

  @Option(names = "--lr", defaultValue = "0.01", description = "head learning rate (default ${DEFAULT-VALUE})")
  double lr;

  @Option(names = "--backbone-lr", description = "backbone learning rate (default: 0.1 x --lr)")
  Double backboneLr;

  @Option(names = "--layer-decay", defaultValue = "1.0", description = "lr factor per stage below the head")
  double layerDecay;

  @Option(names = "--momentum", defaultValue = "0.9")
  double momentum;

  @Option(names = "--weight-decay", defaultValue = "1e-4")
  double weightDecay;

  @Option(names = "--optimizer", defaultValue = "sgd", description = "sgd | adam | adamw")
  String optimizer;

  @Option(names = "--label-smoothing", defaultValue = "0")
  double labelSmoothing;

  @Option(names = "--patience", defaultValue = "0", description = "early stopping patience in epochs (0: off)")
  int patience;

  @Option(names = "--image-size", defaultValue = "224", description = "crop size for 3-channel models")
  int imageSize;

  @Option(names = "--seed", defaultValue = "0")
  long seed;

  @Option(names = "--resume", description = "continue from --out/last.ckpt when present")
  boolean resume;

  @Option(names = "--no-progress", description = "no progress bar")
  boolean noProgress;

  @Option(names = "--out", required = true, description = "output folder")
  Path out;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    Strategy s = Strategy.parse(strategy);
    Module m;
    if (onnx != null) {
      if (model != null || weights != null) {
        throw new GraftException("--onnx brings its own graph and weights: leave out --model and --weights");
      }
      if (s instanceof Strategy.Scratch) {
        throw new GraftException("--strategy scratch needs a zoo --model; an ONNX graph is fine-tuned from its weights");
      }
      Init.manualSeed(seed);
      io.graft.zoo.onnx.OnnxClassifier c = ModelLoading.loadOnnx(onnx, null);
      imageSize = ModelLoading.onnxImageSize(c, imageSize);
      model = "onnx:" + onnx.getFileName();
      m = c;
    } else {
      if (model == null) {
        throw new GraftException("give --model NAME (a zoo architecture) or --onnx FILE");
      }
      if (!Zoo.names().contains(model)) {
        throw new GraftException("unknown model '" + model + "'; known: " + Zoo.names());
      }
      if (weights != null && s instanceof Strategy.Scratch) {
        throw new GraftException("--strategy scratch trains from freshly initialised weights: leave out --weights "
            + "(or pick feature-extract, last-K, full or gradual)");
      }
      if (weights == null && !(s instanceof Strategy.Scratch)) {
        throw new GraftException("--strategy " + strategy + " starts from pretrained weights: pass --weights FILE (or "
            + "'imagenet'), or use --strategy scratch");
      }
      m = null;
    }
    DataSource ds = DataSource.open(data, classes, perClass, model, imageSize, seed);
    int numClasses = ds.train().numClasses();
    Init.manualSeed(seed);
    if (m == null) {
      m = weights == null ? Zoo.create(model, numClasses) : ModelLoading.load(model,
          ModelLoading.resolve(model, weights), null);
    }
    FineTune ft = new FineTune(FineTune.Options.lr(lr).withStrategy(s)
        .withBackboneLr(backboneLr == null ? 0.1 : backboneLr / lr).withLayerDecay(layerDecay)
        .withOptimizer(optimizer, momentum, weightDecay).withLabelSmoothing(labelSmoothing).withSeed(seed));
    ft.prepare(m, numClasses);
    AtomicFiles.directory(out, "--out");
    var log = spec.commandLine().getOut();
    log.printf("%s: %d training, %d validation, %d test images, %d classes %s; strategy %s%n", model,
        ds.train().size(), ds.val().size(), ds.test().size(), numClasses, ds.train().classes(), s.label());
    log.flush();
    History h;
    Evaluation test;
    try (DataLoader tr = new DataLoader(ds.train(), ds.trainTransform(), DataLoader.Options.batch(batch)
        .withShuffle(true).withSeed(seed));
         DataLoader va = new DataLoader(ds.val(), ds.evalTransform(), DataLoader.Options.batch(Math.max(batch, 128)));
         DataLoader te = new DataLoader(ds.test(), ds.evalTransform(), DataLoader.Options.batch(Math.max(batch, 128)))) {
      Trainer t = new Trainer(m, ft.optimizer(m), null, ft.loss(), Trainer.Options.epochs(epochs).withPatience(patience)
          .withProgress(!noProgress).withCheckpoint(out.resolve("last.ckpt"), resume)
          .withMetricsLog(out.resolve("metrics.jsonl")).withPlot(out.resolve("learning_curve.png")));
      t.addListener(ft.listener(m));
      t.addListener(new io.graft.finetune.train.TrainListener() {
        @Override
        public void onEpochEnd(io.graft.finetune.train.EpochStats e) {
          log.printf("epoch %d: train loss %.4f acc %.2f%% | val loss %.4f acc %.2f%% | %.1fs%s%n", e.epoch() + 1,
              e.trainLoss(), e.trainAccuracy(), e.valLoss(), e.valAccuracy(), e.seconds(),
              e.cached() ? " (feature cache)" : "");
          log.flush();
        }
      });
      h = t.fit(tr, va);
      test = Evaluation.of(m, te, ft.loss(), numClasses);
    }
    Safetensors.write(out.resolve("model.safetensors"), m.stateDict(), Map.of("model", model, "classes",
        String.join(",", ds.train().classes())));
    Map<String, Object> metrics = new LinkedHashMap<>();
    metrics.put("model", model);
    metrics.put("strategy", s.label());
    metrics.put("classes", ds.train().classes());
    metrics.put("test_accuracy", test.top1());
    metrics.put("test_top5", test.top5());
    metrics.put("test_loss", test.loss());
    metrics.put("test_per_class_accuracy", test.perClassAccuracy());
    metrics.put("test_confusion", test.confusion());
    metrics.put("best_val_accuracy", h.best() == null ? null : h.best().valAccuracy());
    metrics.put("best_epoch", h.bestEpoch());
    metrics.put("stopped_early", h.stoppedEarly());
    List<Map<String, Object>> hist = new ArrayList<>();
    h.epochs().forEach(e -> hist.add(MetricsLog.line(e)));
    metrics.put("history", hist);
    byte[] json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(metrics);
    AtomicFiles.write(out.resolve("metrics.json"), o -> o.write(json));
    log.printf("test accuracy %.2f%% (top-5 %.2f%%); wrote %s%n", test.top1(), test.top5(), out);
    return 0;
  }
}
