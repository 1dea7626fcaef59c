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
 *     Trainer.Options.epochs(20).withPatience(5).withCheckpoint(dir.resolve("last.ckpt")));
 * History h = t.fit(trainLoader, valLoader);
 * }</pre>
 */
public final class Trainer {
  /** Which validation metric decides "best" and early stopping. */
  public enum Monitor { VAL_ACCURACY, VAL_LOSS }

  /** Settings; {@code Options.epochs(n)} gives: monitor val accuracy, no early stopping, keep best, cache on. */
  public record Options(int epochs, Monitor monitor, int patience, boolean keepBest, double clipGradNorm,
      boolean featureCache, long cacheMemoryBytes, boolean progress, Path checkpoint, boolean resume,
      Path metricsLog, Path plot, boolean skipNonFinite) {
    public static Options epochs(int n) {
      return new Options(n, Monitor.VAL_ACCURACY, 0, true, 0, true, 1L << 30, false, null, false, null, null, false);
    }

    /**
     * With {@code true}, a step whose loss or gradients are not finite is skipped (no update) and counted
     * ({@link Trainer#skippedSteps()}); by default training stops with an error naming the step and parameter.
     */
    public Options withSkipNonFinite(boolean skip) {
      return new Options(epochs, monitor, patience, keepBest, clipGradNorm, featureCache, cacheMemoryBytes, progress,
          checkpoint, resume, metricsLog, plot, skip);
    }

    public Options withMonitor(Monitor m) {
      return new Options(epochs, m, patience, keepBest, clipGradNorm, featureCache, cacheMemoryBytes, progress,
          checkpoint, resume, metricsLog, plot, skipNonFinite);
    }

    /** Stop after this many epochs without improvement (0: never). */
    public Options withPatience(int p) {
      return new Options(epochs, monitor, p, keepBest, clipGradNorm, featureCache, cacheMemoryBytes, progress,
          checkpoint, resume, metricsLog, plot, skipNonFinite);
    }

    public Options withKeepBest(boolean k) {
      return new Options(epochs, monitor, patience, k, clipGradNorm, featureCache, cacheMemoryBytes, progress,
          checkpoint, resume, metricsLog, plot, skipNonFinite);
    }

    /** Global L2 gradient-norm clipping (0: off). */
    public Options withClipGradNorm(double c) {
      return new Options(epochs, monitor, patience, keepBest, c, featureCache, cacheMemoryBytes, progress,
          checkpoint, resume, metricsLog, plot, skipNonFinite);
    }

    public Options withFeatureCache(boolean f) {
      return new Options(epochs, monitor, patience, keepBest, clipGradNorm, f, cacheMemoryBytes, progress,
          checkpoint, resume, metricsLog, plot, skipNonFinite);
    }

    /** Features beyond this many bytes are cached on disk instead of in memory. */
    public Options withCacheMemoryBytes(long b) {
      return new Options(epochs, monitor, patience, keepBest, clipGradNorm, featureCache, b, progress, checkpoint,
          resume, metricsLog, plot, skipNonFinite);
    }

    public Options withProgress(boolean p) {
      return new Options(epochs, monitor, patience, keepBest, clipGradNorm, featureCache, cacheMemoryBytes, p,
          checkpoint, resume, metricsLog, plot, skipNonFinite);
    }

    /** Write a checkpoint here after every epoch; with {@code resume}, continue from it when it exists. */
    public Options withCheckpoint(Path c, boolean resumeIfPresent) {
      return new Options(epochs, monitor, patience, keepBest, clipGradNorm, featureCache, cacheMemoryBytes,
          progress, c, resumeIfPresent, metricsLog, plot, skipNonFinite);
    }

    public Options withMetricsLog(Path p) {
      return new Options(epochs, monitor, patience, keepBest, clipGradNorm, featureCache, cacheMemoryBytes,
          progress, checkpoint, resume, p, plot, skipNonFinite);
    }

    public Options withPlot(Path p) {
      return new Options(epochs, monitor, patience, keepBest, clipGradNorm, featureCache, cacheMemoryBytes,
          progress, checkpoint, resume, metricsLog, p, skipNonFinite);
    }
  }

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

  public Trainer addListener(TrainListener l) {
    listeners.add(l);
    return this;
  }

  /** The validation result of the last epoch run (null before any). */
  public Evaluation lastValidation() {
    return lastValidation;
  }

  /** Trains for the configured epochs (or until early stopping); {@code val} may be null. */
  public History fit(DataLoader train, DataLoader val) {
    int classes = numClasses > 0 ? numClasses : train.dataset().numClasses();
    List<EpochStats> history = new ArrayList<>();
    double best = Double.NaN;
    int bestEpoch = -1;
    int bad = 0;
    StateDict bestState = null;
    int start = 0;
    boolean stopped = false;
    checkpointEpoch = -1;
    if (o.checkpoint() != null && o.resume() && Files.isRegularFile(o.checkpoint())) {
      StateDict savedBest = new StateDict();
      Checkpoint.Restored r = Checkpoint.load(o.checkpoint(), model, optimizer, scheduler, savedBest);
      start = r.epoch() + 1;
      checkpointEpoch = r.epoch();
      TrainerState ts = r.trainer();
      best = ts.best();
      bestEpoch = ts.bestEpoch();
      bad = ts.badEpochs();
      bestState = savedBest.isEmpty() ? null : savedBest;
      history.addAll(ts.history());
      stopped = ts.stopped(); // a run that had stopped early stays stopped, and says so in its history
      if (stopped) {
        start = o.epochs();
      }
      for (TrainListener l : listeners) {
        l.onResume(r.epoch() + 1);
      }
    }
    FeatureCache trainCache = null;
    FeatureCache valCache = null;
    try {
      for (int epoch = start; epoch < o.epochs() && !stopped; epoch++) {
        for (TrainListener l : listeners) {
          l.onEpochStart(epoch);
        }
        boolean cached = o.featureCache() && FeatureCache.ineligibility(model, train) == null;
        long t0 = System.nanoTime(); // the first cached epoch pays for building the cache
        if (cached && trainCache == null) {
          trainCache = FeatureCache.build(model, train, o.cacheMemoryBytes());
          if (val != null) {
            valCache = FeatureCache.build(model, val, o.cacheMemoryBytes());
          }
        }
        Evaluation tr = cached ? cachedEpoch(trainCache, train, epoch, classes) : epoch(train, epoch, classes);
        double seconds = (System.nanoTime() - t0) / 1e9;
        Evaluation va = null;
        if (val != null) {
          va = cached && valCache != null ? cachedEvaluation(valCache, val, classes) : Evaluation.of(model, val, loss,
              classes);
          lastValidation = va;
        }
        if (scheduler != null) {
          scheduler.step(va != null ? va.loss() : tr.loss());
        }
        double[] lr = optimizer.paramGroups().stream().mapToDouble(ParamGroup::lr).toArray();
        EpochStats s = new EpochStats(epoch, tr.loss(), tr.top1(), va == null ? Double.NaN : va.loss(),
            va == null ? Double.NaN : va.top1(), va == null ? Double.NaN : va.top5(),
            va == null ? null : va.perClassAccuracy(), va == null ? null : va.confusion(), lr, seconds,
            tr.count() / seconds, cached);
        history.add(s);
        double metric = va == null ? (o.monitor() == Monitor.VAL_LOSS ? tr.loss() : tr.top1())
            : (o.monitor() == Monitor.VAL_LOSS ? va.loss() : va.top1());
        boolean improved = bestEpoch < 0 || (o.monitor() == Monitor.VAL_LOSS ? metric < best : metric > best);
        if (improved) {
          best = metric;
          bestEpoch = epoch;
          bad = 0;
          if (o.keepBest()) {
            bestState = Checkpoint.copy(model.stateDict());
          }
        } else {
          bad++;
        }
        stopped = o.patience() > 0 && bad >= o.patience();
        if (o.metricsLog() != null) {
          MetricsLog.write(o.metricsLog(), history);
        }
        if (o.plot() != null) {
          LearningCurve.write(o.plot(), history);
        }
        if (o.checkpoint() != null) {
          Checkpoint.save(o.checkpoint(), model, optimizer, scheduler, epoch,
              new TrainerState(best, bestEpoch, bad, stopped, List.copyOf(history)), bestState);
          checkpointEpoch = epoch;
        }
        for (TrainListener l : listeners) {
          l.onEpochEnd(s);
        }
      }
    } finally {
      if (trainCache != null) {
        trainCache.close();
      }
      if (valCache != null) {
        valCache.close();
      }
    }
    if (o.keepBest() && bestState != null) {
      model.loadStateDict(bestState, true);
    }
    return new History(history, bestEpoch, best, stopped);
  }

  private Evaluation epoch(DataLoader train, int epoch, int classes) {
    model.train();
    Evaluation.Accumulator acc = new Evaluation.Accumulator(classes);
    int batches = train.numBatches();
    try (Progress bar = Progress.of(o.progress(), epoch, o.epochs(), batches)) {
      int b = 0;
      for (DataLoader.Batch batch : train.epoch(epoch)) {
        trainBatch(model, batch.x(), batch.y(), epoch, b++, batches, acc, bar);
      }
    }
    return acc.result();
  }

  private Evaluation cachedEpoch(FeatureCache cache, DataLoader train, int epoch, int classes) {
    Module head = ((Classifier) model).head();
    model.train();
    Evaluation.Accumulator acc = new Evaluation.Accumulator(classes);
    int[] order = train.order(epoch);
    int bs = train.options().batchSize();
    int batches = train.numBatches();
    try (Progress bar = Progress.of(o.progress(), epoch, o.epochs(), batches)) {
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
    bar.step(lv, acc);
    for (TrainListener l : listeners) {
      l.onBatchEnd(epoch, batch, batches, lv);
    }
  }

  private static String where(int epoch, int batch) {
    return "at epoch " + (epoch + 1) + ", batch " + (batch + 1);
  }

  private String lastGood() {
    return checkpointEpoch >= 0 ? "; last good checkpoint: " + o.checkpoint() + " (end of epoch "
        + (checkpointEpoch + 1) + ")" : o.checkpoint() != null ? "; no checkpoint written yet" : "";
  }

  private double step(Tensor logits, Tensor y, int epoch, int batch) {
    optimizer.zeroGrad();
    Tensor l = loss.forward(logits, y);
    double lv = l.item();
    if (!Double.isFinite(lv)) {
      if (o.skipNonFinite()) {
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
        if (o.skipNonFinite()) {
          optimizer.zeroGrad();
          skipped++;
          return lv;
        }
        throw new GraftException("non-finite gradient for parameter '" + e.getKey() + "' " + where(epoch, batch)
            + " (loss " + lv + "); weights were not updated" + lastGood());
      }
    }
    if (o.clipGradNorm() > 0) {
      List<Parameter> ps = model.parameters();
      GradClip.clipGradNorm(ps, o.clipGradNorm());
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
