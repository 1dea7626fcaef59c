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
import io.graft.finetune.train.FeatureCache;
import io.graft.finetune.train.History;
import io.graft.finetune.train.MetricsLog;
import io.graft.finetune.train.Trainer;
import io.graft.core.Tensor;
import io.graft.core.ops.LossOps.CrossEntropyOptions;
import io.graft.layers.Module;
import io.graft.layers.lora.Lora;
import io.graft.layers.lora.LoraAdapters;
import io.graft.layers.lora.LoraConfig;
import io.graft.layers.loss.CrossEntropyLoss;
import io.graft.layers.loss.Loss;
import io.graft.optim.Optimizer;
import io.graft.zoo.models.VisionTransformer;
import io.graft.zoo.models.Zoo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code graft finetune}: the whole workflow from the command line. */
@Command(name = "finetune", mixinStandardHelpOptions = true, defaultValueProvider = ConfigReplay.class,
    description = "Fine-tune a zoo model on new classes: new head, freezing strategy, discriminative learning rates,"
        + " validation every epoch; writes metrics.json, the best weights (safetensors, torchvision names), the "
        + "metrics log, the learning curve, classes.json and a checkpoint to --out.")
final class FinetuneCommand implements Callable<Integer> {
  @Option(names = "--model", description = "zoo architecture, e.g. resnet18 or smallcnn")
  String model;

  @Option(names = "--onnx", description = "an ONNX classifier instead of --model/--weights: its graph up to the last "
      + "Gemm is the backbone, a new head replaces that Gemm")
  Path onnx;

  @Option(names = "--weights", paramLabel = "FILE|imagenet",
      description = "pretrained weights: a .pth/.safetensors/.onnx file, or 'imagenet'")
  String weights;

  @Option(names = "--data", paramLabel = "DIR|mnist:DIR|fashion-mnist:DIR", required = true,
      description = "fashion-mnist:DIR, mnist:DIR or an ImageFolder root")
  String data;

  @Option(names = "--classes", description = "classes to use, e.g. 5-9 or 0,2,4 (relabelled from 0)")
  String classes;

  @Option(names = "--per-class", description = "training images per class (the first N in file order of the "
      + "training part; for IDX data 10%% of the selected classes' training images are split off first for validation)")
  Integer perClass;

  @Option(names = "--strategy", defaultValue = "full",
      description = "scratch | feature-extract | last-K (e.g. last-2) | full | gradual (one more stage per epoch from "
          + "the top) | gradual:EPOCH=STAGE[+STAGE],... (the stages open from that epoch on, epochs numbered from 1 "
          + "as printed) | lora:r=8,alpha=16,targets=GLOB[,GLOB...][,dropout=P] (low-rank adapters on the Linear/Conv2d "
          + "layers whose module paths match the globs, e.g. 'encoder.layers.*.mlp.0', or on an attention module's "
          + "packed q/k/v projection, e.g. 'encoder.layers.*.self_attention'; the backbone frozen, the adapters "
          + "and the new head train at --lr; writes adapter_model.safetensors + adapter_config.json (PEFT's layout) and "
          + "the merged model as model.safetensors)")
  String strategy;

  @Option(names = "--epochs", defaultValue = "10")
  int epochs;

  @Option(names = "--batch-size", defaultValue = "32", description = "training images per step (validation and "
      + "test: at least 128)")
  int batchSize;

  @Option(names = "--workers", defaultValue = "2", paramLabel = "N", description = "background threads decoding and "
      + "augmenting images (0: on the training thread); results do not depend on N")
  int workers;

  @Option(names = "--lr", defaultValue = "0.01", description = "head learning rate")
  double lr;

  @Option(names = "--backbone-lr", description = "the backbone's learning rate, absolute (default: "
      + "--backbone-lr-scale x --lr)")
  Double backboneLr;

  @Option(names = "--backbone-lr-scale", description = "the backbone's learning rate as a multiple of --lr, when "
      + "--backbone-lr is not given (default: 0.1)")
  Double backboneLrScale;

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

  @Option(names = "--augment", description = "training augmentation: none | flip | standard (RandomResizedCrop + "
      + "flip) | strong (standard + ColorJitter); default: none for feature-extract (cached features) and smallcnn, "
      + "standard otherwise")
  String augment;

  @Option(names = "--no-feature-cache", description = "run the backbone every epoch even when only the head trains")
  boolean noFeatureCache;

  @Option(names = "--grad-clip", defaultValue = "0", description = "clip the global L2 gradient norm to this value "
      + "(0: off)")
  double gradClip;

  @Option(names = "--class-weights", paramLabel = "auto|FILE",
      description = "cross-entropy class weights: 'auto' (n / (classes x count), from the training images) or a "
          + "file of one weight per class (whitespace or comma separated)")
  String classWeights;

  @Mixin
  Schedules schedule;

  @Mixin
  SparkOptions spark;

  @Option(names = "--resume", description = "continue from --out/last.ckpt when present")
  boolean resume;

  @Option(names = "--no-progress", description = "no progress bar")
  boolean noProgress;

  @Option(names = "--out", required = true, description = "output folder")
  Path out;

  @Option(names = ConfigReplay.OPTION, paramLabel = "FILE", description = ConfigReplay.DESCRIPTION)
  Path replay;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    Map<String, Object> record = RunRecord.config(spec); // before any option field is changed below
    Strategy s = Strategy.parse(strategy);
    if (backboneLr != null && backboneLrScale != null) {
      throw new GraftException("give --backbone-lr (an absolute rate) or --backbone-lr-scale (a multiple of --lr), "
          + "not both; got --backbone-lr " + backboneLr + " --backbone-lr-scale " + backboneLrScale);
    }
    if (epochs < 1 || batchSize < 1 || patience < 0 || workers < 0 || !(gradClip >= 0)
        || !Double.isFinite(gradClip)) {
      throw new GraftException("--epochs and --batch-size must be positive, --patience, --workers and --grad-clip "
          + "not negative; got --epochs " + epochs + " --batch-size " + batchSize + " --patience " + patience
          + " --workers " + workers + " --grad-clip " + gradClip);
    }
    schedule.check(epochs);
    if (s instanceof Strategy.Lora) {
      if (backboneLr != null || backboneLrScale != null) {
        throw new GraftException("--strategy lora trains the adapters and the head at --lr; leave out "
            + (backboneLr != null ? "--backbone-lr" : "--backbone-lr-scale") + " (the base weights are frozen)");
      }
      if (layerDecay != 1.0) {
        throw new GraftException("--strategy lora with --layer-decay " + layerDecay + ": the adapters of every layer "
            + "train at --lr; leave out --layer-decay");
      }
      if (spark.master != null) {
        throw new GraftException("--strategy lora with --spark-master " + spark.master + ": data-parallel training on "
            + "Spark rebuilds each replica without adapters; train LoRA in one process (leave out --spark-master)");
      }
    }
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
    boolean featureExtract = s instanceof Strategy.FeatureExtract;
    Augment aug = augment == null ? Augment.defaultFor(featureExtract, model.equals("smallcnn"))
        : Augment.parse(augment);
    DataSource ds = DataSource.open(data, classes, perClass, model, imageSize, seed, null, aug, null);
    int numClasses = ds.train().numClasses();
    List<String> classNames = ds.train().classes();
    Path ckpt = out.resolve("last.ckpt");
    RunConfig config = new RunConfig(recordedOptions(s, aug), classNames);
    boolean resuming = resume && Files.isRegularFile(ckpt);
    if (resuming) {
      RunConfig saved = RunConfig.read(out);
      if (saved == null) {
        throw new GraftException("--resume: " + ckpt + " has no " + RunConfig.FILE + " beside it (a run from an "
            + "earlier Graft version, or not a graft finetune output), so its settings cannot be checked; start a "
            + "new run in another --out");
      }
      config.checkResumable(saved, out);
    }
    Init.manualSeed(seed);
    if (m == null) {
      m = weights == null ? Zoo.create(model, numClasses) : ModelLoading.load(model,
          ModelLoading.resolve(model, weights), null);
    }
    if (m instanceof VisionTransformer v && v.imageSize() != imageSize) {
      // otherwise the first training step fails on the input shape, naming no option
      throw new GraftException("--image-size " + imageSize + ": " + model + " takes " + v.imageSize() + "x"
          + v.imageSize() + " images only (its positional embedding encoder.pos_embedding has one row per patch "
          + "of that size, plus one); pass --image-size " + v.imageSize());
    }
    FineTune.Options fo = FineTune.Options.lr(lr).withStrategy(s);
    fo = backboneLr != null ? fo.withBackboneLr(backboneLr)
        : fo.withBackboneLrScale(backboneLrScale == null ? 0.1 : backboneLrScale);
    FineTune ft = new FineTune(fo.withLayerDecay(layerDecay).withOptimizer(optimizer, momentum, weightDecay)
        .withLabelSmoothing(labelSmoothing).withSeed(seed));
    ft.prepare(m, numClasses);
    Loss loss = loss(ds, numClasses);
    AtomicFiles.directory(out, "--out");
    config.write(out);
    ClassNames.write(out, classNames);
    ds.preprocess().write(out);
    var log = spec.commandLine().getOut();
    var err = spec.commandLine().getErr();
    ds.missing().forEach((split, names) -> err.println("graft: warning: " + split + "/ has no folder for class(es) "
        + names + " of " + classNames + "; its labels are mapped by name and " + (split.equals("train")
        ? "the model never sees them" : "those classes have no " + split + " accuracy")));
    err.flush();
    log.printf("%s: %d training, %d validation, %d test images, %d classes %s; strategy %s%n", model,
        ds.train().size(), ds.val().size(), ds.test().size(), numClasses, classNames, s.label());
    History h;
    Evaluation test;
    Module net = m;
    DataLoader.Options evalBatches = DataLoader.Options.batch(Math.max(batchSize, 128)).withWorkers(workers);
    try (DataLoader tr = new DataLoader(ds.train(), ds.trainTransform(), DataLoader.Options.batch(batchSize)
        .withShuffle(true).withSeed(seed).withWorkers(workers));
         DataLoader va = new DataLoader(ds.val(), ds.evalTransform(), evalBatches);
         DataLoader te = new DataLoader(ds.test(), ds.evalTransform(), evalBatches)) {
      log.println(augmentationLine(s, aug, noFeatureCache ? null : FeatureCache.ineligibility(m, tr)));
      log.flush();
      Optimizer opt = ft.optimizer(m);
      Trainer t = new Trainer(m, opt, schedule.build(opt, epochs), loss,
          Trainer.Options.epochs(epochs).withPatience(patience).withClipGradNorm(gradClip)
          .withFeatureCache(!noFeatureCache).withProgress(!noProgress).withCheckpoint(ckpt, resume)
          .withMetricsLog(out.resolve("metrics.jsonl")).withPlot(out.resolve("learning_curve.png")));
      t.addListener(ft.listener(m));
      t.addListener(new RunEvents(net, log, epochs));
      try (var dp = spark.open(this, s, aug, numClasses)) { // null without --spark-master
        h = t.trainEpochsWith(dp).fit(tr, va);
      }
      test = Evaluation.of(m, te, loss, numClasses);
    }
    if (h.stoppedEarly() && h.last() != null) {
      log.printf("early stop after epoch %d: no better val accuracy for %d epoch(s); best epoch %d (val acc %.2f%%), "
          + "whose weights are kept%n", h.last().epoch() + 1, patience, h.bestEpoch() + 1, h.best().valAccuracy());
    }
    Map<String, Object> lora = null;
    if (s instanceof Strategy.Lora) {
      // the adapters alone (PEFT's files), then the merged model under torchvision's names as model.safetensors
      LoraConfig lc = ft.loraConfig(m);
      LoraAdapters.save(m, lc, out, weights, null);
      lora = loraRecord(m, lc);
      Lora.mergeAndUnload(m);
    }
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("model", model);
    meta.putAll(ClassNames.metadata(classNames));
    meta.putAll(ds.preprocess().metadata());
    Safetensors.write(out.resolve("model.safetensors"), m.stateDict(), meta);
    Map<String, Object> metrics = new LinkedHashMap<>();
    metrics.put("model", model);
    metrics.put("strategy", s.label());
    metrics.put("augment", aug.label());
    metrics.put("classes", classNames);
    metrics.put("test_accuracy", test.top1());
    metrics.put("test_top5", test.top5());
    metrics.put("test_loss", test.loss());
    metrics.put("test_per_class_accuracy", Arrays.stream(test.perClassAccuracy())
        .mapToObj(v -> Double.isNaN(v) ? null : v).toList());
    metrics.put("test_confusion", test.confusion());
    metrics.put("best_val_accuracy", h.best() == null ? null : h.best().valAccuracy());
    metrics.put("best_epoch", h.bestEpoch() < 0 ? null : h.bestEpoch() + 1);
    metrics.put("stopped_early", h.stoppedEarly());
    List<Map<String, Object>> hist = new ArrayList<>();
    h.epochs().forEach(e -> hist.add(MetricsLog.line(e)));
    metrics.put("history", hist);
    if (lora != null) {
      metrics.put("lora", lora);
    }
    metrics.put("config", record);
    byte[] json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(metrics);
    AtomicFiles.write(out.resolve("metrics.json"), o -> o.write(json));
    log.printf("test accuracy %.2f%% (top-5 %.2f%%); wrote %s%n", test.top1(), test.top5(), out);
    return 0;
  }

  /** What metrics.json records of a LoRA run: the config, the adapted layers, trainable and total parameters. */
  private static Map<String, Object> loraRecord(Module m, LoraConfig c) {
    long trainable = 0;
    long total = 0;
    for (var p : m.parameters()) {
      total += p.numel();
      trainable += p.requiresGrad() ? p.numel() : 0;
    }
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("r", c.r());
    r.put("alpha", c.alpha());
    r.put("dropout", c.dropout());
    r.put("targets", c.targets());
    r.put("adapted_layers", List.copyOf(Lora.layers(m).keySet()));
    r.put("modules_to_save", c.modulesToSave());
    r.put("trainable_parameters", trainable);
    r.put("total_parameters", total);
    r.put("adapters", LoraAdapters.WEIGHTS);
    r.put("model_safetensors", "merged");
    return r;
  }

  /** The options that decide a run's result, as recorded in {@link RunConfig} and checked on {@code --resume}. */
  private Map<String, String> recordedOptions(Strategy s, Augment aug) {
    Map<String, String> o = new LinkedHashMap<>();
    o.put("model", model);
    o.put("onnx", onnx == null ? null : onnx.toAbsolutePath().normalize().toString());
    o.put("weights", weights == null || weights.equals("imagenet") ? weights
        : Path.of(weights).toAbsolutePath().normalize().toString());
    int colon = data.indexOf(':');
    boolean idx = data.startsWith("fashion-mnist:") || data.startsWith("mnist:");
    o.put("data", idx ? data.substring(0, colon + 1) + Path.of(data.substring(colon + 1)).toAbsolutePath().normalize()
        : Path.of(data).toAbsolutePath().normalize().toString());
    o.put("classes", classes);
    o.put("per-class", perClass == null ? null : perClass.toString());
    o.put("strategy", s.label());
    o.put("batch-size", String.valueOf(batchSize));
    o.put("workers", String.valueOf(workers));
    o.put("lr", String.valueOf(lr));
    o.put("backbone-lr", backboneLr == null ? null : backboneLr.toString());
    o.put("backbone-lr-scale", backboneLrScale == null ? null : backboneLrScale.toString());
    o.put("layer-decay", String.valueOf(layerDecay));
    o.put("momentum", String.valueOf(momentum));
    o.put("weight-decay", String.valueOf(weightDecay));
    o.put("optimizer", optimizer);
    o.put("label-smoothing", String.valueOf(labelSmoothing));
    o.put("image-size", String.valueOf(imageSize));
    o.put("seed", String.valueOf(seed));
    o.put("augment", aug.label());
    o.put("no-feature-cache", String.valueOf(noFeatureCache));
    o.put("grad-clip", String.valueOf(gradClip));
    o.put("class-weights", classWeights == null || classWeights.equals("auto") ? classWeights
        : Path.of(classWeights).toAbsolutePath().normalize().toString());
    o.putAll(schedule.recorded());
    o.put("epochs", String.valueOf(epochs));
    o.put("patience", String.valueOf(patience));
    o.put("no-progress", String.valueOf(noProgress));
    return o;
  }

  /** What the run does about augmentation and the feature cache; {@code ineligible}: why the cache cannot be used. */
  private String augmentationLine(Strategy s, Augment aug, String ineligible) {
    boolean headOnly = s instanceof Strategy.FeatureExtract;
    if (!headOnly) {
      return "augmentation: " + aug.label();
    }
    if (noFeatureCache) {
      return "augmentation: " + aug.label() + "; feature cache off (--no-feature-cache): the backbone runs every epoch";
    }
    if (aug == Augment.NONE && ineligible != null) {
      return "augmentation: none; the feature cache is off (" + ineligible + "), so the backbone runs every epoch";
    }
    if (aug == Augment.NONE) {
      return "augmentation: none; feature-extract trains the head on backbone features computed once (feature cache); "
          + "--augment flip|standard|strong trains on augmented images instead, without the cache";
    }
    return "augmentation: " + aug.label() + " is random, so the feature cache is off and the backbone runs every "
        + "epoch (cached features need deterministic transforms: --augment none)";
  }

  /** Cross-entropy with the recipe's label smoothing and, with {@code --class-weights}, class weights. */
  private Loss loss(DataSource ds, int numClasses) {
    CrossEntropyOptions o = CrossEntropyOptions.defaults().withLabelSmoothing(labelSmoothing);
    if (classWeights != null) {
      o = o.withWeight(Tensor.fromArray(ClassWeights.of(classWeights, ds.train(), numClasses), numClasses));
    }
    return new CrossEntropyLoss(o);
  }
}
