package io.graft.finetune.data;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import io.graft.finetune.transforms.Transform;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Batches of a dataset, as PyTorch's {@code DataLoader}: seeded shuffling per epoch, {@code drop_last}, and
 * decoding plus augmentation on background threads with batches prepared ahead ({@code prefetch}). The order of
 * batches and every random transform depend only on (seed, epoch, example index), never on thread timing, so a run
 * is reproducible with any number of workers.
 *
 * <pre>{@code
 * try (DataLoader train = new DataLoader(ds, transform, DataLoader.Options.batch(32).withShuffle(true).withSeed(0))) {
 *   for (DataLoader.Batch b : train.epoch(0)) { ... b.x() (N, C, H, W) float32, b.y() (N) int64 ... }
 * }
 * }</pre>
 */
public final class DataLoader implements AutoCloseable {
  /** Batch size, shuffling, drop_last, seed, background workers (0 = decode on the caller's thread), prefetch. */
  public record Options(int batchSize, boolean shuffle, boolean dropLast, long seed, int workers, int prefetch) {
    /**
     * Batches of {@code batchSize} (PyTorch's {@code batch_size}) in dataset order, last partial batch kept, seed 0, 2
     * background workers, 4 batches prefetched.
     */
    public static Options batch(int batchSize) {
      return new Options(batchSize, false, false, 0, 2, 4);
    }

    /** These options with PyTorch's {@code shuffle}: a new seeded permutation every epoch. */
    public Options withShuffle(boolean s) {
      return new Options(batchSize, s, dropLast, seed, workers, prefetch);
    }

    /** These options with PyTorch's {@code drop_last}: an epoch's last, smaller batch is dropped. */
    public Options withDropLast(boolean d) {
      return new Options(batchSize, shuffle, d, seed, workers, prefetch);
    }

    /** These options with {@code seed}, which fixes the shuffling and every random transform of every epoch. */
    public Options withSeed(long s) {
      return new Options(batchSize, shuffle, dropLast, s, workers, prefetch);
    }

    /**
     * These options with {@code w} background decoding threads (PyTorch's {@code num_workers}; 0 decodes on the
     * caller's thread). The batches are the same for any count.
     */
    public Options withWorkers(int w) {
      return new Options(batchSize, shuffle, dropLast, seed, w, prefetch);
    }

    /**
     * These options with {@code p} batches prepared ahead (at least 1; PyTorch's {@code prefetch_factor}, counted in
     * batches in total rather than per worker).
     */
    public Options withPrefetch(int p) {
      return new Options(batchSize, shuffle, dropLast, seed, workers, p);
    }
  }

  /** Images {@code (N, C, H, W)} float32, labels {@code (N)} int64, and the dataset indices they came from. */
  public record Batch(Tensor x, Tensor y, int[] indices) {
    /** The number of examples in this batch ({@code N}). */
    public int size() {
      return indices.length;
    }
  }

  private record Raw(float[] x, long[] y, int[] indices, int c, int h, int w) {}

  private final Dataset dataset;
  private final Transform transform;
  private final Options o;
  private final ExecutorService pool;

  /**
   * A loader over {@code dataset} applying {@code transform} to every example; throws {@link GraftException} if the
   * batch size or prefetch is not positive, workers is negative, or the dataset is empty. Close it to stop its worker
   * threads.
   */
  public DataLoader(Dataset dataset, Transform transform, Options options) {
    if (options.batchSize() < 1 || options.workers() < 0 || options.prefetch() < 1) {
      throw new GraftException("DataLoader: batch size and prefetch must be positive, workers >= 0; got " + options);
    }
    if (dataset.size() == 0) {
      throw new GraftException("DataLoader: the dataset is empty");
    }
    this.dataset = dataset;
    this.transform = transform;
    this.o = options;
    AtomicInteger n = new AtomicInteger();
    this.pool = options.workers() == 0 ? null : Executors.newFixedThreadPool(options.workers(), r -> {
      Thread t = new Thread(r, "graft-data-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  /** The dataset this loader reads. */
  public Dataset dataset() {
    return dataset;
  }

  /** The transform applied to every example. */
  public Transform transform() {
    return transform;
  }

  /** The batch size, shuffling, seed and threading this loader was built with. */
  public Options options() {
    return o;
  }

  /** Batches per epoch. */
  public int numBatches() {
    int n = dataset.size();
    return o.dropLast() ? n / o.batchSize() : (n + o.batchSize() - 1) / o.batchSize();
  }

  /** The example order of an epoch (a seeded permutation when shuffling). */
  public int[] order(int epoch) {
    if (!o.shuffle()) {
      int[] id = new int[dataset.size()];
      for (int i = 0; i < id.length; i++) {
        id[i] = i;
      }
      return id;
    }
    return new Rng(Rng.mix(o.seed(), epoch, -1)).permutation(dataset.size());
  }

  /** The batches of one epoch, prepared ahead on the worker threads. */
  public Iterable<Batch> epoch(int epoch) {
    int[] order = order(epoch);
    int batches = numBatches();
    return () -> new Iterator<>() {
      private final ArrayDeque<Future<Raw>> ahead = new ArrayDeque<>();
      private int submitted;
      private int taken;

      private void fill() {
        while (pool != null && submitted < batches && ahead.size() < o.prefetch()) {
          int b = submitted++;
          ahead.add(pool.submit(() -> load(order, b, epoch)));
        }
      }

      @Override
      public boolean hasNext() {
        return taken < batches;
      }

      @Override
      public Batch next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        Raw r;
        if (pool == null) {
          r = load(order, taken, epoch);
        } else {
          fill();
          try {
            r = ahead.removeFirst().get();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GraftException("DataLoader interrupted", e);
          } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw c instanceof GraftException g ? g : new GraftException("DataLoader worker failed: " + c, c);
          }
          fill();
        }
        taken++;
        int n = r.indices().length;
        return new Batch(Tensor.fromArray(r.x(), n, r.c(), r.h(), r.w()), Tensor.fromArray(r.y(), n), r.indices());
      }
    };
  }

  /**
   * The examples at {@code indices} (dataset indices, in that order) as one batch, transformed as epoch {@code epoch}
   * transforms them: the same tensors {@link #epoch} gives for those examples whatever batch holds them. A
   * data-parallel trainer loads each replica's shard of a global batch with it.
   */
  public Batch batch(int[] indices, int epoch) {
    for (int i : indices) {
      if (i < 0 || i >= dataset.size()) {
        throw new GraftException("DataLoader.batch: index " + i + " is outside the dataset's " + dataset.size()
            + " examples");
      }
    }
    if (indices.length == 0) {
      throw new GraftException("DataLoader.batch: no indices");
    }
    Raw r = load(indices, 0, indices.length, epoch);
    int n = r.indices().length;
    return new Batch(Tensor.fromArray(r.x(), n, r.c(), r.h(), r.w()), Tensor.fromArray(r.y(), n), r.indices());
  }

  private Raw load(int[] order, int b, int epoch) {
    return load(order, b * o.batchSize(), o.batchSize(), epoch);
  }

  private Raw load(int[] order, int start, int size, int epoch) {
    int n = Math.min(size, order.length - start);
    int[] idx = new int[n];
    long[] y = new long[n];
    float[] x = null;
    int c = 0;
    int h = 0;
    int w = 0;
    for (int i = 0; i < n; i++) {
      idx[i] = order[start + i];
      Example e = dataset.get(idx[i]);
      Image img = transform == null ? e.image() : transform.apply(e.image(), new Rng(Rng.mix(o.seed(), epoch,
          idx[i])));
      if (x == null) {
        c = img.channels();
        h = img.height();
        w = img.width();
        long total = (long) n * img.numel();
        if (total > Integer.MAX_VALUE - 8) { // one Java array per batch
          throw new GraftException("DataLoader: a batch of " + n + " images of " + c + "x" + h + "x" + w + " holds "
              + total + " values, more than a Java array can (2^31); use a smaller batch or image size");
        }
        x = new float[(int) total];
      } else if (img.channels() != c || img.height() != h || img.width() != w) {
        throw new GraftException("DataLoader: example " + idx[i] + " is " + img.channels() + "x" + img.height() + "x"
            + img.width() + " but the batch is " + c + "x" + h + "x" + w + "; add a Resize/CenterCrop transform");
      }
      System.arraycopy(img.data(), 0, x, i * img.numel(), img.numel());
      y[i] = e.label();
    }
    return new Raw(x, y, idx, c, h, w);
  }

  @Override
  public void close() {
    if (pool != null) {
      pool.shutdownNow();
    }
  }
}
