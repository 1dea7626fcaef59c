package io.graft.spark.train;

import io.graft.core.GraftException;
import io.graft.finetune.train.DataParallelBackend;
import io.graft.finetune.train.Evaluation;
import io.graft.finetune.train.Replica;
import io.graft.finetune.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.SparkSession;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * Synchronous data-parallel training on Spark with the semantics of PyTorch's {@code DistributedDataParallel}, as
 * the {@link Trainer}'s epoch runner ({@link Trainer#trainEpochsWith}): the trainer keeps the epochs, listeners
 * (gradual unfreezing), the feature cache (a cached epoch trains the head on the driver), validation, schedulers,
 * early stopping, records and its end-of-epoch checkpoint; this class trains each epoch's steps on {@code workers}
 * replicas in one Spark barrier stage per run of steps ({@link ReplicaTask}).
 *
 * <p><b>Semantics.</b> Step {@code s} of an epoch trains on global batch {@code s} of the training loader's seeded
 * order, split into contiguous shards by rank ({@link Shards}). Each replica computes the gradient of its shard's mean
 * loss; the gradients of the trainable parameters are averaged (sum / world size, as DDP; frozen ones are never
 * exchanged) and every replica applies the same clipping and optimizer step, so weights and optimizer state stay
 * identical. BatchNorm uses each replica's own batch statistics (no SyncBatchNorm); the running statistics, which then
 * differ, are averaged at the epoch's end ({@link ReplicaState#average}) so the driver's model and checkpoints do not
 * depend on a replica. With {@code localSgdEvery = K > 0} each replica steps on its own gradients and the trainable
 * weights are averaged every K steps of the epoch (and everything, optimizer buffers included, at its end).
 *
 * <p><b>Faults.</b> Every {@code checkpointEvery} steps the driver writes a {@link StepCheckpoint} atomically (every
 * replica's state, step, epoch). Each run of steps is one Spark job whose barrier stage is its result stage, which
 * Spark does not retry; when the job fails (an executor died), the driver resubmits from the last checkpoint, up to
 * {@code maxAttempts} times in a row. A rerun of the same steps from the same states gives the same result, so the
 * run ends as an uninterrupted one does. A replica's own error (a bad image, a NaN) is not retried: it stops all
 * replicas and comes back as a {@link GraftException} naming the file.
 */
public final class DataParallelTrainer implements DataParallelBackend.Runner {
  /**
   * {@code workers} replicas (one barrier task each); a driver checkpoint every {@code checkpointEvery} steps to
   * {@code checkpoint} (0 / null: none, an epoch is then one Spark job and a failure restarts the epoch); local SGD
   * every {@code localSgdEvery} steps (0: DDP); the gradient {@code exchange}; at most {@code maxAttempts} tries of
   * one run of steps.
   */
  public record Options(int workers, int checkpointEvery, Path checkpoint, int localSgdEvery, Exchange.Kind exchange,
      int maxAttempts, boolean resume) {
    /** {@code workers} replicas, DDP, no step checkpoint, the polled-blocks exchange, 4 attempts, no resume. */
    public static Options workers(int workers) {
      return new Options(workers, 0, null, 0, Exchange.Kind.BLOCKS, 4, false);
    }

    /** A driver checkpoint to {@code file} every {@code steps} steps. */
    public Options withCheckpoint(Path file, int steps) {
      return new Options(workers, steps, file, localSgdEvery, exchange, maxAttempts, resume);
    }

    /** Local SGD: parameter averaging every {@code k} steps (0: DDP). */
    public Options withLocalSgd(int k) {
      return new Options(workers, checkpointEvery, checkpoint, k, exchange, maxAttempts, resume);
    }

    /** These options with exchange {@code e}. */
    public Options withExchange(Exchange.Kind e) {
      return new Options(workers, checkpointEvery, checkpoint, localSgdEvery, e, maxAttempts, resume);
    }

    /**
     * With {@code r}, an epoch whose step checkpoint exists (same epoch, same number of replicas; the driver was
     * stopped inside it and the {@link Trainer} resumed from the end of the epoch before) continues from its last
     * step; that epoch's training metrics then cover only the steps after it.
     */
    public Options withResume(boolean r) {
      return new Options(workers, checkpointEvery, checkpoint, localSgdEvery, exchange, maxAttempts, r);
    }
  }

  /**
   * Where an epoch's time went, per step, summed over its runs of steps and taking the slowest replica of each:
   * computing (data, forward, backward, optimizer) and exchanging (waiting included), in milliseconds.
   */
  public record StepTimes(int steps, double computeMs, double exchangeMs) {}

  private final SparkSession spark;
  private final boolean ownsSession;
  private final JavaSparkContext jsc;
  private final Replica.Factory factory;
  private final Options o;
  private final String runId = UUID.randomUUID().toString();
  private final Consumer<String> log;
  private int restarts;
  private StepTimes lastTimes;

  /**
   * A runner on {@code spark}'s cluster; {@code factory} builds each replica on its executor. With {@code owns}, {@link
   * #close} stops the session. Throws {@link GraftException} for bad options.
   */
  public DataParallelTrainer(SparkSession spark, boolean owns, Replica.Factory factory, Options options,
      Consumer<String> log) {
    if (options.workers() < 1 || options.checkpointEvery() < 0 || options.localSgdEvery() < 0
        || options.maxAttempts() < 1 || options.checkpointEvery() > 0 && options.checkpoint() == null) {
      throw new GraftException("data-parallel: workers and attempts must be positive, checkpoint-every and local-sgd "
          + "not negative, and checkpoint-every needs a checkpoint file; got " + options);
    }
    int slots = localSlots(spark.sparkContext().master());
    if (slots > 0 && options.workers() > slots) {
      throw new GraftException("data-parallel: " + options.workers() + " workers need as many task slots, but master "
          + spark.sparkContext().master() + " has " + slots + "; use local[" + options.workers()
          + "] or fewer workers");
    }
    this.spark = spark;
    this.ownsSession = owns;
    this.jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    this.factory = factory;
    this.o = options;
    this.log = log == null ? s -> {} : log;
  }

  /** Task slots of a {@code local[N]} master ({@code local}: 1, {@code local[*]}: the cores), or -1 for a cluster. */
  static int localSlots(String master) {
    if (master.equals("local")) {
      return 1;
    }
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("local\\[(\\d+|\\*)(,\\d+)?]").matcher(master);
    if (!m.matches()) {
      return -1;
    }
    return m.group(1).equals("*") ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(m.group(1));
  }

  /** Jobs resubmitted from a checkpoint after a failure, since this runner was made. */
  public int restarts() {
    return restarts;
  }

  /** The last epoch's per-step time split (null before any). */
  public StepTimes lastStepTimes() {
    return lastTimes;
  }

  @Override
  public Evaluation trainEpoch(Context c) {
    if (c.steps().skipNonFinite()) {
      throw new GraftException("data-parallel training stops on a non-finite step; skipping it (skipNonFinite) is "
          + "not supported");
    }
    int steps = c.train().numBatches();
    int world = o.workers();
    if (c.train().options().batchSize() < world) {
      throw new GraftException("data-parallel: the global batch size " + c.train().options().batchSize() + " is "
          + "smaller than the " + world + " workers; every replica needs examples");
    }
    Set<String> trainable = new LinkedHashSet<>();
    c.model().namedParameters().forEach((n, p) -> {
      if (p.requiresGrad()) {
        trainable.add(n);
      }
    });
    byte[] start = ReplicaState.encode(c.model(), c.optimizer());
    List<byte[]> states = new ArrayList<>(Collections.nCopies(world, start));
    int step = 0;
    if (o.resume() && o.checkpoint() != null && Files.isRegularFile(o.checkpoint())) {
      StepCheckpoint.Saved saved = StepCheckpoint.read(o.checkpoint());
      if (saved.epoch() == c.epoch() && saved.step() < steps && saved.states().size() == world) {
        states = new ArrayList<>(saved.states());
        step = saved.step();
        log.accept("data-parallel: resuming epoch " + (c.epoch() + 1) + " after step " + step + " from "
            + o.checkpoint());
      }
    }
    Stats stats = new Stats(c.classes());
    int attempts = 0;
    while (step < steps) {
      int to = o.checkpointEvery() > 0 ? Math.min(steps, step + o.checkpointEvery()) : steps;
      List<ChunkResult> results;
      try {
        results = run(c.epoch(), step, to, states, trainable, c.steps().clipGradNorm());
      } catch (Exception e) { // Spark's SparkException is checked in Java but thrown undeclared
        if (e instanceof RuntimeException r && !isSparkFailure(e)) {
          throw r;
        }
        if (++attempts >= o.maxAttempts()) {
          throw new GraftException("data-parallel: epoch " + (c.epoch() + 1) + ", steps " + (step + 1) + ".." + to
              + " failed " + attempts + " time(s) in a row; last: " + firstLine(e), e);
        }
        restarts++;
        log.accept("data-parallel: the job for epoch " + (c.epoch() + 1) + ", steps " + (step + 1) + ".." + to
            + " failed (" + firstLine(e) + "); resubmitting from the checkpoint after step " + step);
        continue; // states and step still hold the last checkpoint's
      }
      attempts = 0;
      for (ChunkResult r : results) {
        if (r.failure() != null) {
          throw new GraftException("data-parallel training stopped at epoch " + (c.epoch() + 1) + ": " + r.failure());
        }
      }
      List<byte[]> next = new ArrayList<>();
      for (ChunkResult r : results) {
        next.add(r.state());
        stats.add(r);
      }
      stats.time(results);
      states = next;
      step = to;
      if (o.checkpoint() != null) {
        StepCheckpoint.write(o.checkpoint(), c.epoch(), step, states);
      }
    }
    ReplicaState.load(ReplicaState.average(states), c.model(), c.optimizer());
    lastTimes = stats.times(steps);
    return stats.result();
  }

  private List<ChunkResult> run(int epoch, int from, int to, List<byte[]> states, Set<String> trainable, double clip) {
    ClassTag<ChunkResult> tag = ClassTag$.MODULE$.apply(ChunkResult.class);
    Broadcast<byte[][]> b = jsc.broadcast(states.toArray(byte[][]::new));
    try {
      ReplicaTask.Job job = new ReplicaTask.Job(runId, UUID.randomUUID().toString(), epoch, from, to, o.workers(),
          trainable, clip, o.localSgdEvery(), o.exchange());
      RDD<Integer> ranks = jsc.parallelize(IntStream.range(0, o.workers()).boxed().toList(), o.workers()).rdd();
      RDD<ChunkResult> out = ranks.barrier().mapPartitions(new ReplicaTask(factory, b, job), false, tag);
      List<ChunkResult> rs = new ArrayList<>(new JavaRDD<>(out, tag).collect());
      rs.sort(java.util.Comparator.comparingInt(ChunkResult::rank));
      return rs;
    } finally {
      b.destroy();
    }
  }

  private static boolean isSparkFailure(Throwable e) {
    return e.getClass().getName().startsWith("org.apache.spark.");
  }

  private static String firstLine(Throwable e) {
    String m = String.valueOf(e.getMessage());
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl);
  }

  /** Training metrics merged over replicas and runs of steps. */
  private static final class Stats {
    final long[][] confusion;
    double lossSum;
    long n;
    long top5;
    double computeMs;
    double exchangeMs;

    Stats(int classes) {
      confusion = new long[classes][classes];
    }

    void add(ChunkResult r) {
      lossSum += r.lossSum();
      n += r.count();
      top5 += r.top5();
      if (r.confusion() != null) {
        for (int i = 0; i < confusion.length; i++) {
          for (int j = 0; j < confusion.length; j++) {
            confusion[i][j] += r.confusion()[i][j];
          }
        }
      }
    }

    void time(List<ChunkResult> rs) {
      long c = 0;
      long e = 0;
      for (ChunkResult r : rs) {
        c = Math.max(c, r.computeNanos());
        e = Math.max(e, r.exchangeNanos());
      }
      computeMs += c / 1e6;
      exchangeMs += e / 1e6;
    }

    StepTimes times(int steps) {
      return new StepTimes(steps, computeMs / steps, exchangeMs / steps);
    }

    Evaluation result() {
      long correct = 0;
      double[] perClass = new double[confusion.length];
      for (int k = 0; k < confusion.length; k++) {
        long row = 0;
        for (long v : confusion[k]) {
          row += v;
        }
        correct += confusion[k][k];
        perClass[k] = row == 0 ? Double.NaN : 100.0 * confusion[k][k] / row;
      }
      return new Evaluation(n == 0 ? Double.NaN : lossSum / n, n == 0 ? Double.NaN : 100.0 * correct / n,
          n == 0 ? Double.NaN : 100.0 * top5 / n, perClass, confusion, n);
    }
  }

  @Override
  public void close() {
    if (ownsSession) {
      spark.stop();
    }
  }

}
