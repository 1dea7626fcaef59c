package io.graft.finetune.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.init.Init;
import io.graft.core.io.AtomicFiles;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.data.Dataset;
import io.graft.finetune.data.IdxDataset;
import io.graft.finetune.train.Evaluation;
import io.graft.finetune.train.History;
import io.graft.finetune.train.Trainer;
import io.graft.finetune.transforms.Normalize;
import io.graft.finetune.transforms.Transform;
import io.graft.layers.Module;
import io.graft.layers.loss.CrossEntropyLoss;
import io.graft.optim.SGD;
import io.graft.zoo.models.SmallCNN;
import io.graft.zoo.weights.TorchPth;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The demo behind {@code graft demo}: transfer from Fashion-MNIST classes 0–4 to classes 5–9 with 100 images per
 * class, comparing three strategies — scratch, feature extraction (frozen backbone; runs on the feature cache),
 * full fine-tuning with a 10× smaller backbone learning rate — against PyTorch's accuracies for the same recipe
 * ({@code tools/reference/finetune_demo.py}). Everything it needs ships in the jar: the stage-1 checkpoint that
 * PyTorch trained, the 500 training and 5000 test images. Given the full dataset it trains stage 1 itself.
 */
public final class Demo {
  static final String RES = "/io/graft/finetune/demo/";
  static final Transform NORMALIZE = new Normalize(new float[] {0.2860f}, new float[] {0.3530f});
  static final String[] STRATEGIES = {"scratch", "feature-extract", "full"};

  /** One strategy's outcome. */
  public record Row(String strategy, List<Double> graft, double graftMean, double torchMean, double secondsPerRun,
      double firstEpochSeconds, double laterEpochSeconds) {}

  private Demo() {}

  /**
   * Runs the demo for {@code seeds}; {@code fashionMnist} is the folder of the full dataset or null (use the shipped
   * subset and PyTorch's stage-1 checkpoint). Writes {@code out/metrics.json}, prints the table to {@code log}.
   */
  public static List<Row> run(Path fashionMnist, int[] seeds, int epochs, Path out, PrintWriter log) {
    if (seeds.length == 0) {
      throw new GraftException("demo: at least one seed");
    }
    Path assets = assets();
    JsonNode reference = readJson(assets.resolve("reference.json"));
    Dataset train;
    Dataset test;
    StateDict stage1;
    String stage1Source;
    if (fashionMnist != null) {
      Dataset full = IdxDataset.fashionMnist(fashionMnist, true);
      Dataset fullTest = IdxDataset.fashionMnist(fashionMnist, false);
      train = full.selectClasses(5, 6, 7, 8, 9).firstPerClass(100);
      test = fullTest.selectClasses(5, 6, 7, 8, 9);
      log.println("stage 1: training smallcnn(5) on Fashion-MNIST classes 0-4 (2 epochs) ...");
      log.flush();
      stage1 = trainStage1(full.selectClasses(0, 1, 2, 3, 4), fullTest.selectClasses(0, 1, 2, 3, 4), seeds[0], log);
      stage1Source = "trained by Graft on " + fashionMnist;
    } else {
      train = new IdxDataset(assets.resolve("train-images-idx3-ubyte.gz"), assets.resolve("train-labels-idx1-ubyte.gz"),
          IdxDataset.FASHION_CLASSES).selectClasses(5, 6, 7, 8, 9);
      test = new IdxDataset(assets.resolve("t10k-images-idx3-ubyte.gz"), assets.resolve("t10k-labels-idx1-ubyte.gz"),
          IdxDataset.FASHION_CLASSES).selectClasses(5, 6, 7, 8, 9);
      stage1 = TorchPth.read(assets.resolve("smallcnn_fmnist_0-4.pth"));
      stage1Source = "PyTorch checkpoint shipped with Graft (tools/reference/finetune_demo.py)";
    }
    log.printf("stage 1 weights: %s%nstage 2: %d training images (100 per class of 5-9), %d test images, %d epochs,"
        + " batch 32, seeds %s%n", stage1Source, train.size(), test.size(), epochs, java.util.Arrays.toString(seeds));
    log.flush();
    List<Row> rows = new ArrayList<>();
    for (String strategy : STRATEGIES) {
      List<Double> acc = new ArrayList<>();
      double seconds = 0;
      double first = 0;
      double later = 0;
      for (int seed : seeds) {
        long t0 = System.nanoTime();
        Result r = stage2(strategy, stage1, train, test, seed, epochs);
        seconds += (System.nanoTime() - t0) / 1e9;
        acc.add(r.accuracy);
        first += r.history.epochs().get(0).seconds();
        later += r.history.epochs().stream().skip(1).mapToDouble(e -> e.seconds()).average().orElse(0);
        log.printf("  %-16s seed %d: test accuracy %.2f%%%n", strategy, seed, r.accuracy);
        log.flush();
      }
      double mean = acc.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
      JsonNode ref = reference.path("strategies").path(strategy).path("mean");
      rows.add(new Row(strategy, acc, mean, ref.isNumber() ? ref.asDouble() : Double.NaN, seconds / seeds.length,
          first / seeds.length, later / seeds.length));
    }
    printTable(rows, reference, log);
    if (fashionMnist != null) {
      log.println("note: stage 1 ran in Graft here; the PyTorch column starts from PyTorch's own stage-1 checkpoint,"
          + " so feature extraction (which depends most on the stage-1 features) is not a like-for-like comparison.");
      log.flush();
    }
    writeMetrics(out, rows, reference, seeds, epochs, stage1Source);
    return rows;
  }

  private record Result(double accuracy, History history) {}

  static StateDict trainStage1(Dataset train, Dataset test, int seed, PrintWriter log) {
    Init.manualSeed(seed);
    SmallCNN m = new SmallCNN(5);
    SGD opt = new SGD(SGD.Options.lr(0.01).withMomentum(0.9).withWeightDecay(1e-4), m.namedParameters());
    try (DataLoader tr = new DataLoader(train, NORMALIZE, DataLoader.Options.batch(64).withShuffle(true)
        .withSeed(seed));
         DataLoader te = new DataLoader(test, NORMALIZE, DataLoader.Options.batch(500))) {
      new Trainer(m, opt, null, new CrossEntropyLoss(), Trainer.Options.epochs(2).withKeepBest(false)
          .withFeatureCache(false).withProgress(true)).fit(tr, null);
      Evaluation e = Evaluation.of(m, te, new CrossEntropyLoss(), 5);
      log.printf("stage 1: test accuracy on classes 0-4: %.2f%%%n", e.top1());
    }
    return m.stateDict();
  }

  static Result stage2(String strategyName, StateDict stage1, Dataset train, Dataset test, int seed, int epochs) {
    Strategy strategy = Strategy.parse(strategyName);
    Init.manualSeed(1000 + seed);
    SmallCNN m = new SmallCNN(5);
    if (!(strategy instanceof Strategy.Scratch)) {
      m.loadStateDict(stage1, true);
    }
    FineTune ft = new FineTune(FineTune.Options.lr(0.01).withStrategy(strategy)
        .withBackboneLrScale(strategy instanceof Strategy.Full ? 0.1 : 1.0).withOptimizer("sgd", 0.9, 1e-4)
        .withSeed(2000 + seed));
    if (!(strategy instanceof Strategy.Scratch)) {
      ft.prepare(m, 5);
    }
    Module model = m;
    try (DataLoader tr = new DataLoader(train, NORMALIZE, DataLoader.Options.batch(32).withShuffle(true)
        .withSeed(seed));
         DataLoader te = new DataLoader(test, NORMALIZE, DataLoader.Options.batch(500))) {
      Trainer t = new Trainer(model, ft.optimizer(model), null, ft.loss(), Trainer.Options.epochs(epochs)
          .withKeepBest(false));
      History h = t.fit(tr, null);
      return new Result(Evaluation.of(model, te, ft.loss(), 5).top1(), h);
    }
  }

  static void printTable(List<Row> rows, JsonNode reference, PrintWriter log) {
    log.println();
    log.printf("%-16s %14s %16s %10s %22s%n", "strategy", "Graft acc (%)", "PyTorch acc (%)", "time (s)",
        "epoch 1 / later (s)");
    for (Row r : rows) {
      log.printf("%-16s %14.2f %16.2f %10.1f %14.3f / %.3f%n", r.strategy(), r.graftMean(), r.torchMean(),
          r.secondsPerRun(), r.firstEpochSeconds(), r.laterEpochSeconds());
    }
    log.printf("PyTorch %s, mean of seeds %s (tools/reference/finetune_demo.py); Graft: mean of the seeds above. "
        + "feature-extract trains on cached features after epoch 1.%n", reference.path("torch").asText("?"),
        reference.path("seeds").toString());
    log.flush();
  }

  /**
   * The accuracy table the README quotes, rendered from a demo run's {@code metrics.json}: strategy, Graft's mean test
   * accuracy over the run's seeds, PyTorch's reference mean. The README's copy is checked against the committed run
   * in {@code docs/demo/metrics.json} (regenerate both with {@code graft demo --out docs/demo}).
   */
  public static String readmeTable(JsonNode metrics) {
    StringBuilder sb = new StringBuilder(String.format("%-16s %14s %16s%n", "strategy", "Graft acc (%)",
        "PyTorch acc (%)"));
    metrics.path("strategies").fields().forEachRemaining(e -> sb.append(String.format("%-16s %14.2f %16.2f%n",
        e.getKey(), e.getValue().path("graft_mean").asDouble(), e.getValue().path("pytorch_mean").asDouble())));
    return sb.toString();
  }

  static void writeMetrics(Path out, List<Row> rows, JsonNode reference, int[] seeds, int epochs, String stage1) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("demo", "Fashion-MNIST 0-4 -> 5-9, 100 images per class, smallcnn");
    m.put("stage1", stage1);
    m.put("epochs", epochs);
    m.put("seeds", seeds);
    Map<String, Object> s = new LinkedHashMap<>();
    for (Row r : rows) {
      Map<String, Object> x = new LinkedHashMap<>();
      x.put("graft_test_accuracy", r.graft());
      x.put("graft_mean", r.graftMean());
      x.put("pytorch_mean", r.torchMean());
      x.put("seconds_per_run", r.secondsPerRun());
      x.put("first_epoch_seconds", r.firstEpochSeconds());
      x.put("later_epoch_seconds", r.laterEpochSeconds());
      s.put(r.strategy(), x);
    }
    m.put("strategies", s);
    m.put("pytorch_reference", reference);
    try {
      byte[] bytes = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(m);
      AtomicFiles.write(out.resolve("metrics.json"), o -> o.write(bytes));
    } catch (IOException e) {
      throw new GraftException(out + ": cannot write metrics: " + e.getMessage(), e);
    }
  }

  /**
   * The demo's shipped files unpacked into a fresh temporary folder: the four Fashion-MNIST IDX files (classes 5–9:
   * 500 training, 5000 test images) under their standard names, PyTorch's stage-1 checkpoint
   * {@code smallcnn_fmnist_0-4.pth} and {@code reference.json}.
   */
  public static Path assets() {
    try {
      Path dir = Files.createTempDirectory("graft-demo-");
      dir.toFile().deleteOnExit();
      for (String f : new String[] {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
          "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "smallcnn_fmnist_0-4.pth", "reference.json"}) {
        try (InputStream in = Demo.class.getResourceAsStream(RES + f)) {
          if (in == null) {
            throw new GraftException("demo asset " + RES + f + " is missing from the jar");
          }
          Path p = dir.resolve(f);
          Files.copy(in, p, StandardCopyOption.REPLACE_EXISTING);
          p.toFile().deleteOnExit();
        }
      }
      return dir;
    } catch (IOException e) {
      throw new GraftException("demo: cannot unpack assets: " + e.getMessage(), e);
    }
  }

  static JsonNode readJson(Path p) {
    try {
      return new ObjectMapper().readTree(p.toFile());
    } catch (IOException e) {
      throw new GraftException(p + ": " + e.getMessage(), e);
    }
  }
}
