package io.graft.finetune.train;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.finetune.data.DataLoader;
import io.graft.layers.Module;
import io.graft.layers.loss.Loss;
import io.graft.optim.GradClip;
import io.graft.optim.Optimizer;
import io.graft.optim.ParamGroup;
import io.graft.optim.scheduler.Scheduler;
import io.graft.zoo.models.Classifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The training loop: epochs of forward, loss, backward, (clipping,) optimizer step; per-epoch validation (loss,
 * top-1, top-5, per-class accuracy, confusion matrix); scheduler stepping (with the validation loss for
 * ReduceLROnPlateau); early stopping on a monitored metric; keep-best weights; listeners; progress bar, JSON-lines
 * metrics log, learning-curve PNG; atomic checkpoints every epoch and exact resume; the feature cache when only the
 * head trains.
 *
 * <pre>{@code
 * Trainer t = new Trainer(model, optimizer, scheduler, new CrossEntropyLoss(),
 *     Trainer.Options.epochs(20).withPatience(5).withCheckpoint(dir.resolve("last.ckpt"), true));
 * History h = t.fit(trainLoader, valLoader);
 * }</pre>
 */
public final class Trainer {
  /** Which validation metric decides "best" and early stopping. */
  public enum Monitor {
    /** Validation top-1 accuracy: higher is better. */
    VAL_ACCURACY,
    /** Validation loss: lower is better. */
    VAL_LOSS
  }

  /**
   * Settings, in groups; {@code Options.epochs(n)} gives: monitor val accuracy, no early stopping, keep best, no
   * clipping, stop on a non-finite step, feature cache on (1 GiB in memory), no progress bar, no checkpoint, no
   * files. The {@code with...} methods change one setting.
   */
  public record Options(int epochs, Stopping stopping, Steps steps, Caching caching, Checkpointing checkpointing,
      Reporting reporting) {
    /** {@code n} epochs (at least 1, checked by the {@link Trainer} constructor) with the defaults listed above. */
    public static Options epochs(int n) {
      return new Options(n, new Stopping(Monitor.VAL_ACCURACY, 0, true), new Steps(0, false),
          new Caching(true, 1L << 30), new Checkpointing(null, false), new Reporting(false, null, null));
    }

    /** These options with the early-stopping settings {@code s}. */
    public Options withStopping(Stopping s) {
      return new Options(epochs, s, steps, caching, checkpointing, reporting);
    }

    /** These options with the per-step settings {@code s} (gradient clipping, non-finite steps). */
    public Options withSteps(Steps s) {
      return new Options(epochs, stopping, s, caching, checkpointing, reporting);
    }

    /** These options with the feature-cache settings {@code c}. */
    public Options withCaching(Caching c) {
      return new Options(epochs, stopping, steps, c, checkpointing, reporting);
    }

    /** These options with the checkpoint settings {@code c}. */
    public Options withCheckpointing(Checkpointing c) {
      return new Options(epochs, stopping, steps, caching, c, reporting);
    }

    /** These options with the reporting settings {@code r} (progress bar, metrics log, plot). */
    public Options withReporting(Reporting r) {
      return new Options(epochs, stopping, steps, caching, checkpointing, r);
    }

    /** These options with metric {@code m} deciding the best epoch and early stopping. */
    public Options withMonitor(Monitor m) {
      return withStopping(new Stopping(m, stopping.patience(), stopping.keepBest()));
    }

    /** Stop after this many epochs without improvement (0: never). */
    public Options withPatience(int p) {
      return withStopping(new Stopping(stopping.monitor(), p, stopping.keepBest()));
    }

    /** These options with keep-best on or off: whether {@code fit} ends by restoring the best epoch's weights. */
    public Options withKeepBest(boolean k) {
      return withStopping(new Stopping(stopping.monitor(), stopping.patience(), k));
    }

    /** Global L2 gradient-norm clipping (0: off). */
    public Options withClipGradNorm(double c) {
      return withSteps(new Steps(c, steps.skipNonFinite()));
    }

    /**
     * With {@code true}, a step whose loss or gradients are not finite is skipped (no update) and counted
     * ({@link Trainer#skippedSteps()}); by default training stops with an error naming the step and parameter.
     */
    public Options withSkipNonFinite(boolean skip) {
      return withSteps(new Steps(steps.clipGradNorm(), skip));
    }

    /** These options with the feature cache on or off (it is used only when everything before the head is frozen). */
    public Options withFeatureCache(boolean f) {
      return withCaching(new Caching(f, caching.memoryBytes()));
    }

    /** Features beyond this many bytes are cached on disk instead of in memory. */
    public Options withCacheMemoryBytes(long b) {
      return withCaching(new Caching(caching.enabled(), b));
    }

    /** Write a checkpoint here after every epoch; with {@code resume}, continue from it when it exists. */
    public Options withCheckpoint(Path c, boolean resumeIfPresent) {
      return withCheckpointing(new Checkpointing(c, resumeIfPresent));
    }

    /** These options with a progress bar on standard error on or off. */
    public Options withProgress(boolean p) {
      return withReporting(new Reporting(p, reporting.metricsLog(), reporting.plot()));
    }

    /**
     * These options with the JSON-lines metrics log written to {@code p} after every epoch (and its CSV beside it), or
     * none if null.
     */
    public Options withMetricsLog(Path p) {
      return withReporting(new Reporting(reporting.progress(), p, reporting.plot()));
    }

    /** These options with the learning-curve PNG written to {@code p} after every epoch, or none if null. */
    public Options withPlot(Path p) {
      return withReporting(new Reporting(reporting.progress(), reporting.metricsLog(), p));
    }
  }

  /** Which metric decides the best epoch, after how many epochs without improvement to stop (0: never), keep-best. */
  public record Stopping(Monitor monitor, int patience, boolean keepBest) {}

  /** Per step: global L2 gradient-norm clipping (0: off), and whether a non-finite step is skipped or stops the run. */
  public record Steps(double clipGradNorm, boolean skipNonFinite) {}

  /** The feature cache when only the head trains: on or off, and the bytes kept in memory before spilling to disk. */
  public record Caching(boolean enabled, long memoryBytes) {}

  /** The checkpoint written after every epoch (null: none) and whether to resume from it when it exists. */
  public record Checkpointing(Path file, boolean resume) {}

  /** The progress bar, the JSON-lines metrics log and the learning-curve PNG (null: not written). */
  public record Reporting(boolean progress, Path metricsLog, Path plot) {}

  private final Module model;
  private final Optimizer optimizer;
  private final Scheduler scheduler;
  private final Loss loss;
  private final Options o;
  private final List<TrainListener> listeners = new ArrayList<>();
  private final int numClasses;
  private Evaluation lastValidation;
  private final java.util.Map<String, Parameter> named;
  private long skipped;
  /** The epoch of the last checkpoint written or resumed from (-1: none), named when training stops on NaN/Inf. */
  private int checkpointEpoch = -1;
  /** Features computed elsewhere ({@link #withFeatures}), used instead of building the caches; null: none. */
  private FeatureCache givenTrain;
  private FeatureCache givenVal;
  /** Runs the training epochs elsewhere ({@link #trainEpochsWith}); null: this trainer's own loop. */
  private EpochRunner runner;

  /**
   * A trainer of {@code model} with {@code optimizer}, an optional {@code scheduler} (null: constant learning rate) and
   * {@code loss}; throws {@link GraftException} unless {@code options} has at least one epoch.
   */
  public Trainer(Module model, Optimizer optimizer, Scheduler scheduler, Loss loss, Options options) {
    if (options.epochs() < 1) {
      throw new GraftException("Trainer: epochs must be positive, got " + options.epochs());
    }
    this.model = model;
    this.optimizer = optimizer;
    this.scheduler = scheduler;
    this.loss = loss;
    this.o = options;
    this.numClasses = model instanceof Classifier c ? (int) c.head().outFeatures() : -1;
    this.named = model.namedParameters();
  }

  /** Steps skipped because their loss or gradients were not finite (with {@code skipNonFinite}). */
  public long skippedSteps() {
    return skipped;
  }

  /**
   * Trains every uncached epoch with {@code r} instead of this trainer's own loop (null: the own loop); everything
   * else ({@link EpochRunner} lists it) stays here. Returns {@code this}.
   */
  public Trainer trainEpochsWith(EpochRunner r) {
    this.runner = r;
    return this;
  }

  /** Adds a listener called during {@code fit}, after those added before; returns {@code this}. */
  public Trainer addListener(TrainListener l) {
    listeners.add(l);
    return this;
  }

  /**
   * Trains the head on features computed elsewhere (graft-spark's distributed extraction, read back with its
   * {@code FeatureShards}) instead of building the caches: {@code train} (and {@code val}, or null) hold the head's
   * inputs for every example of the loaders' datasets, by index. They are used only as the built caches are: the
   * feature cache on and every rule of {@link FeatureCache#ineligibility} met; otherwise, and for a cache whose size
   * or feature length does not match the dataset or head, {@code fit} throws {@link GraftException} saying why. The
   * caller keeps ownership (closes them). Returns {@code this}.
   */
  public Trainer withFeatures(FeatureCache train, FeatureCache val) {
    givenTrain = train;
    givenVal = val;
    return this;
  }

  /** The validation result of the last epoch run (null before any). */
  public Evaluation lastValidation() {
    return lastValidation;
  }

  /** Trains for the configured epochs (or until early stopping); {@code val} may be null. */
  public History fit(DataLoader train, DataLoader val) {
    int classes = numClasses > 0 ? numClasses : train.dataset().numClasses();
    checkpointEpoch = -1;
    int start = 0;
    BestTracker run = new BestTracker(o.stopping());
    Checkpointing ck = o.checkpointing();
    if (ck.file() != null && ck.resume() && Files.isRegularFile(ck.file())) {
      StateDict savedBest = new StateDict();
      Checkpoint.Restored r = Checkpoint.load(ck.file(), model, optimizer, scheduler, savedBest);
      run = new BestTracker(o.stopping(), r.trainer(), savedBest);
      start = run.stopped() ? o.epochs() : r.epoch() + 1;
      checkpointEpoch = r.epoch();
      for (TrainListener l : listeners) {
        l.onResume(r.epoch() + 1);
      }
    }
    if (givenTrain != null) {
      checkGiven(train, val);
    }
    try (Caches caches = new Caches()) {
      for (int epoch = start; epoch < o.epochs() && !run.stopped(); epoch++) {
        for (TrainListener l : listeners) {
          l.onEpochStart(epoch);
        }
        EpochStats s = epoch(train, val, epoch, classes, caches);
        run.record(s, val != null, () -> Checkpoint.copy(model.stateDict()));
        writeRecords(run.history());
        saveCheckpoint(epoch, run);
        for (TrainListener l : listeners) {
          l.onEpochEnd(s);
        }
      }
    }
    if (o.stopping().keepBest() && run.bestState() != null) {
      model.loadStateDict(run.bestState(), true);
    }
    return run.result();
  }

  /** The feature caches of the training and validation sets, built on the first cached epoch. */
  private static final class Caches implements AutoCloseable {
    FeatureCache train;
    FeatureCache val;
    /** The caches came from {@link #withFeatures}: their caller closes them. */
    boolean given;

    @Override
    public void close() {
      if (given) {
        return;
      }
      if (train != null) {
        train.close();
      }
      if (val != null) {
        val.close();
      }
    }
  }

  /**
   * One epoch: training (on cached features when only the head trains and the data allow it), validation, the
   * scheduler's step (with the validation loss, else the training loss) and the epoch's figures.
   */
  private EpochStats epoch(DataLoader train, DataLoader val, int epoch, int classes, Caches caches) {
    boolean cached = givenTrain != null
        || o.caching().enabled() && FeatureCache.ineligibility(model, train) == null;
    long t0 = System.nanoTime(); // the first cached epoch pays for building the cache
    if (givenTrain != null) {
      caches.train = givenTrain;
      caches.val = givenVal;
      caches.given = true;
    } else if (cached && caches.train == null) {
      caches.train = FeatureCache.build(model, train, o.caching().memoryBytes());
      if (val != null) {
        caches.val = FeatureCache.build(model, val, o.caching().memoryBytes());
      }
    }
    Evaluation tr = cached ? cachedTraining(caches.train, train, epoch, classes) : runner != null
        ? runner.trainEpoch(new EpochRunner.Context(model, optimizer, loss, train, epoch, o.epochs(), classes,
            o.steps()))
        : training(train, epoch, classes);
    double seconds = (System.nanoTime() - t0) / 1e9;
    Evaluation va = val == null ? null : validation(val, cached ? caches.val : null, classes);
    if (scheduler != null) {
      scheduler.step(va != null ? va.loss() : tr.loss());
    }
    double[] lr = optimizer.paramGroups().stream().mapToDouble(ParamGroup::lr).toArray();
    return new EpochStats(epoch, tr.loss(), tr.top1(), va == null ? Double.NaN : va.loss(),
        va == null ? Double.NaN : va.top1(), va == null ? Double.NaN : va.top5(),
        va == null ? null : va.perClassAccuracy(), va == null ? null : va.confusion(), lr, seconds,
        tr.count() / seconds, cached);
  }

  /** The features given by {@link #withFeatures} must be usable as built caches would be, and match the data. */
  private void checkGiven(DataLoader train, DataLoader val) {
    String why = !o.caching().enabled() ? "the feature cache is off in the options"
        : FeatureCache.ineligibility(model, train);
    if (why != null) {
      throw new GraftException("Trainer: features were given, but only the head can train on them: " + why);
    }
    if (val != null && givenVal == null) {
      throw new GraftException("Trainer: features were given for training but not for the validation set");
    }
    long f = ((Classifier) model).numFeatures();
    for (int k = 0; k < 2; k++) {
      FeatureCache c = k == 0 ? givenTrain : givenVal;
      DataLoader d = k == 0 ? train : val;
      if (c == null || d == null) {
        continue;
      }
      String what = k == 0 ? "training" : "validation";
      if (c.size() != d.dataset().size() || c.features() != f) {
        throw new GraftException("Trainer: the given " + what + " features hold " + c.size() + " examples of "
            + c.features() + " values, but the " + what + " set has " + d.dataset().size() + " examples and the head "
            + "takes " + f + " features");
      }
    }
  }

  /** The validation pass, on the cached features when there are some. */
  private Evaluation validation(DataLoader val, FeatureCache cache, int classes) {
    Evaluation va = cache != null ? cachedEvaluation(cache, val, classes) : Evaluation.of(model, val, loss, classes);
    lastValidation = va;
    return va;
  }

  /** The metrics log and the learning curve, rewritten after every epoch. */
  private void writeRecords(List<EpochStats> history) {
    if (o.reporting().metricsLog() != null) {
      MetricsLog.write(o.reporting().metricsLog(), history);
    }
    if (o.reporting().plot() != null) {
      LearningCurve.write(o.reporting().plot(), history);
    }
  }

  /** The end-of-epoch checkpoint (atomic): weights, optimizer, scheduler, the tracker's state and best weights. */
  private void saveCheckpoint(int epoch, BestTracker run) {
    if (o.checkpointing().file() != null) {
      Checkpoint.save(o.checkpointing().file(), model, optimizer, scheduler, epoch, run.state(), run.bestState());
      checkpointEpoch = epoch;
    }
  }

  private Evaluation training(DataLoader train, int epoch, int classes) {
    model.train();
    Evaluation.Accumulator acc = new Evaluation.Accumulator(classes);
    int batches = train.numBatches();
    try (Progress bar = Progress.of(o.reporting().progress(), epoch, o.epochs(), batches)) {
      int b = 0;
      for (DataLoader.Batch batch : train.epoch(epoch)) {
        trainBatch(model, batch.x(), batch.y(), epoch, b++, batches, acc, bar);
      }
    }
    return acc.result();
  }

  private Evaluation cachedTraining(FeatureCache cache, DataLoader train, int epoch, int classes) {
    Module head = ((Classifier) model).head();
    model.train();
    Evaluation.Accumulator acc = new Evaluation.Accumulator(classes);
    int[] order = train.order(epoch);
    int bs = train.options().batchSize();
    int batches = train.numBatches();
    try (Progress bar = Progress.of(o.reporting().progress(), epoch, o.epochs(), batches)) {
      for (int b = 0; b < batches; b++) {
        int n = Math.min(bs, order.length - b * bs);
        int[] idx = new int[n];
        System.arraycopy(order, b * bs, idx, 0, n);
        Tensor[] xy = cache.batch(idx);
        trainBatch(head, xy[0], xy[1], epoch, b, batches, acc, bar);
      }
    }
    return acc.result();
  }

  /** Forward through {@code net} (the model, or its head on cached features), step, and the batch's bookkeeping. */
  private void trainBatch(Module net, Tensor x, Tensor y, int epoch, int batch, int batches,
      Evaluation.Accumulator acc, Progress bar) {
    Tensor logits = net.call(x);
    double lv = step(logits, y, epoch, batch);
    acc.add(logits, y, lv);
    bar.step(acc);
    for (TrainListener l : listeners) {
      l.onBatchEnd(epoch, batch, batches, lv);
    }
  }

  private static String where(int epoch, int batch) {
    return "at epoch " + (epoch + 1) + ", batch " + (batch + 1);
  }

  private String lastGood() {
    Path file = o.checkpointing().file();
    return checkpointEpoch >= 0 ? "; last good checkpoint: " + file + " (end of epoch " + (checkpointEpoch + 1) + ")"
        : file != null ? "; no checkpoint written yet" : "";
  }

  private double step(Tensor logits, Tensor y, int epoch, int batch) {
    optimizer.zeroGrad();
    Tensor l = loss.forward(logits, y);
    double lv = l.item();
    if (!Double.isFinite(lv)) {
      if (o.steps().skipNonFinite()) {
        skipped++;
        return lv;
      }
      throw new GraftException("non-finite loss " + lv + " " + where(epoch, batch) + "; weights were not updated"
          + lastGood());
    }
    l.backward();
    for (Map.Entry<String, Parameter> e : named.entrySet()) {
      INDArray g = e.getValue().requiresGrad() ? e.getValue().gradData() : null;
      if (g != null && !Double.isFinite(g.sumNumber().doubleValue())) {
        if (o.steps().skipNonFinite()) {
          optimizer.zeroGrad();
          skipped++;
          return lv;
        }
        throw new GraftException("non-finite gradient for parameter '" + e.getKey() + "' " + where(epoch, batch)
            + " (loss " + lv + "); weights were not updated" + lastGood());
      }
    }
    if (o.steps().clipGradNorm() > 0) {
      GradClip.clipGradNorm(model.parameters(), o.steps().clipGradNorm());
    }
    optimizer.step();
    return lv;
  }

  private Evaluation cachedEvaluation(FeatureCache cache, DataLoader val, int classes) {
    Module head = ((Classifier) model).head();
    boolean wasTraining = head.isTraining();
    head.eval();
    Evaluation.Accumulator acc = new Evaluation.Accumulator(classes);
    int bs = val.options().batchSize();
    int[] order = val.order(0); // the examples (and batches, drop_last included) the uncached evaluation sees
    try (var g = GradMode.disabled()) {
      for (int b = 0; b < val.numBatches(); b++) {
        int[] idx = java.util.Arrays.copyOfRange(order, b * bs, Math.min(order.length, (b + 1) * bs));
        Tensor[] xy = cache.batch(idx);
        Tensor logits = head.call(xy[0]);
        acc.add(logits, xy[1], loss.forward(logits, xy[1]).item());
      }
    } finally {
      head.train(wasTraining);
    }
    return acc.result();
  }
}
