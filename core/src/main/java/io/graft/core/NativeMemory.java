package io.graft.core;

import io.graft.core.backend.HostMemory;
import java.util.concurrent.atomic.AtomicLong;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Keeps native memory bounded. ND4J frees an array's off-heap buffer only when the Java garbage collector finds the
 * array unreachable — and a training loop allocates gigabytes of native activations and gradients per step while
 * its heap barely grows, so the collector may not run for many steps, while the resident set climbs and steps slow
 * down from page faults.
 *
 * <p>Graft frees its arrays itself ({@link #release}: spent gradients, a graph's saved activations after backward, a
 * frozen forward pass's intermediates, op temporaries), and a leaf keeps its gradient's memory for the next step
 * ({@code Tensor.clearGrad}), so a steady training step leaves nothing to the collector and never requests a
 * collection. Only what is not freed explicitly needs the collector, so that is what it counts: the bytes
 * {@link #uninitialized} allocated and {@link #release} has not freed since the last collection request, plus the
 * results ND4J allocates for recorded ops ({@link #allocated}; uncounted again when released). It requests a full
 * collection ({@code System.gc()}, this class's only call of it; {@link #collections} counts them) when that count
 * exceeds {@link #budgetBytes()} (default 256 MiB; system property {@code graft.gcEveryBytes}, 0 disables) plus an
 * allowance for memory in use: the most that was counted before a collection and freed explicitly after it (a
 * training step's activations, live until its backward). Memory freed explicitly never calls for a collection,
 * however much of it passes through. ND4J's own small native allocations (shape descriptors) are left to the
 * collector's ordinary young collections, which the heap's own churn brings about.
 * (Its measured effect: docs/benchmarks.md, "History moved from code comments".)
 *
 * <p><b>Cap on the resident set.</b> javacpp can check the process's resident set against its
 * {@code maxPhysicalBytes} on every native allocation, reading {@code /proc/self/statm} each time (about 1,400 reads
 * per ResNet-18 step); Graft turns that off ({@link HostMemory#physicalCap()}) and checks the same cap here instead,
 * once per {@link #PHYSICAL_CHECK_BYTES} (64 MiB) that {@link #uninitialized} allocates: over the cap it requests one
 * collection, waits 100 ms for the deallocators, and if the resident set is still over, refuses the allocation with
 * a {@link GraftException} naming the cap ({@code -Dgraft.maxPhysicalBytes}; by default javacpp's own default, the
 * maximum heap size times four).
 */
public final class NativeMemory {
  private static final GcBudget BUDGET = new GcBudget(Long.getLong("graft.gcEveryBytes", 1L << 28));
  /** Bytes {@link #uninitialized} allocates between two checks of the resident set against the cap. */
  public static final long PHYSICAL_CHECK_BYTES = 64L << 20;
  private static final AtomicLong SINCE_CHECK = new AtomicLong();
  private static final AtomicLong GC_CALLS = new AtomicLong();
  private static final AtomicLong CAP_CHECKS = new AtomicLong();
  private static final ThreadLocal<Scope> SCOPE = new ThreadLocal<>();

  private NativeMemory() {}

  /**
   * Counts the result of a recorded op or a gradient towards the collection budget when ND4J allocated it (arrays
   * from {@link #uninitialized} are counted there); may request a garbage collection.
   */
  public static void allocated(INDArray a) {
    if (BUDGET.budget() <= 0 || a == null || a.isView() || isOwned(a)) {
      return;
    }
    charge(a.length() * a.dataType().width());
  }

  private static void charge(long bytes) {
    if (BUDGET.allocated(bytes)) {
      collect();
    }
  }

  /** Graft's only call of {@code System.gc()}, counted by {@link #collections()}. */
  private static void collect() {
    GC_CALLS.incrementAndGet();
    System.gc();
  }

  /** Checks the resident set against {@link HostMemory#physicalCap()} once per {@link #PHYSICAL_CHECK_BYTES}. */
  private static void checkPhysical(long bytes) {
    long cap = HostMemory.physicalCap();
    if (cap <= 0 || SINCE_CHECK.addAndGet(bytes) < PHYSICAL_CHECK_BYTES) {
      return;
    }
    SINCE_CHECK.set(0);
    CAP_CHECKS.incrementAndGet();
    if (HostMemory.physicalBytes() + bytes <= cap) {
      return;
    }
    collect();
    try {
      Thread.sleep(100);   // ND4J's and javacpp's deallocator threads free what the collection found
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    long rss = HostMemory.physicalBytes();
    if (rss + bytes > cap) {
      throw new GraftException("native memory: allocating " + bytes + " bytes would take the process's resident set ("
          + rss + " bytes) over its cap of " + cap + " bytes (-D" + HostMemory.MAX_PHYSICAL_PROPERTY + ")");
    }
  }

  /**
   * A C-order float32/float64 array whose contents are undefined, for an output that an op writes completely.
   * ND4J's {@code Nd4j.createUninitialized} clears its buffer, which costs several times the op that then fills
   * it. This wraps a plain javacpp allocation instead (the buffer is freed when the array becomes unreachable, or at
   * once by {@link #release}).
   * Other dtypes and empty or zero-dimensional shapes go through ND4J.
   */
  public static INDArray uninitialized(DataType dtype, long... shape) {
    long n = count(shape);
    if (n == 0 || shape.length == 0 || (dtype != DataType.FLOAT && dtype != DataType.DOUBLE)) {
      return Nd4j.createUninitialized(dtype, shape);
    }
    checkPhysical(n * dtype.width());
    DataBuffer b = HostMemory.allocate(dtype, n, BUDGET.epoch());
    INDArray a = Nd4j.create(b, shape.clone(), Nd4j.getStrides(shape, 'c'), 0, 'c');
    charge(n * dtype.width());
    Scope scope = SCOPE.get();
    if (scope != null) {
      scope.owned.add(a);
    }
    return a;
  }

  /**
   * As {@link #uninitialized}, but never freed by an open release scope: for an array that outlives the computation
   * around it (a leaf's gradient, which {@code Tensor.clearGrad} frees).
   */
  public static INDArray lasting(DataType dtype, long... shape) {
    Scope scope = SCOPE.get();
    SCOPE.remove();
    try {
      return uninitialized(dtype, shape);
    } finally {
      if (scope != null) {
        SCOPE.set(scope);
      }
    }
  }

  /** The number of elements of a shape (overflow is an error). */
  static long count(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  /** A C-order array of zeros: {@link #uninitialized} cleared by one libnd4j pass (faster than ND4J's own). */
  public static INDArray zeros(DataType dtype, long... shape) {
    INDArray a = uninitialized(dtype, shape);
    if (a.length() > 0) {
      a.assign(0);
    }
    return a;
  }

  /**
   * Frees an array's native buffer now. Only for arrays the caller created and nothing else references (an op's
   * temporaries, a node's saved intermediates): any later use of a released array is a bug.
   */
  public static void release(INDArray a) {
    if (a != null && !a.wasClosed() && a.closeable()) {
      Object p = a.data().pointer();
      a.close();
      // closing an array frees ND4J's wrapper, not memory allocated by uninitialized(): free that too, so the
      // allocator hands the same pages to the next array instead of faulting in fresh ones
      if (p instanceof HostMemory.Owned owned) {
        long bytes = owned.bytes();
        long epoch = owned.epoch();
        owned.free();
        BUDGET.freed(epoch, bytes);
      } else if (BUDGET.budget() > 0) {
        BUDGET.freed(BUDGET.epoch(), a.length() * a.dataType().width());   // ND4J's result of a recorded op
      }
    }
  }

  /** Whether {@link #release} would free the array's memory: a live, non-view array from {@link #uninitialized}. */
  public static boolean isOwned(INDArray a) {
    if (a == null || a.wasClosed() || !a.closeable() || a.data() == null) {   // (an empty array has no buffer)
      return false;
    }
    return a.data().pointer() instanceof HostMemory.Owned;
  }

  /**
   * A conservative {@code [start, end)} byte range of native memory holding the array's elements: from its buffer's
   * address over the buffer's length plus the array's offset, so two arrays whose ranges do not intersect share no
   * memory.
   */
  public static long[] addressRange(INDArray a) {
    long lo = HostMemory.address(a.data());
    long width = a.dataType().width();
    return new long[] {lo, lo + (a.offset() + a.data().length()) * width};
  }

  /**
   * Opens a release scope on this thread: every array {@link #uninitialized} allocates until {@link Scope#close()}
   * is freed then, except those whose memory overlaps the array passed to {@link Scope#keep} (they pass to the
   * enclosing scope, if any). For computations that record no graph and leave nothing else behind — a frozen
   * module's forward pass, whose intermediate activations are otherwise dead memory waiting for the collector
   * (see {@code Module.call}). Scopes nest; close them in reverse order (try-with-resources).
   */
  public static Scope openScope() {
    Scope s = new Scope(SCOPE.get());
    SCOPE.set(s);
    return s;
  }

  /** Whether a release scope is open on this thread (arrays allocated now would be freed when it ends). */
  public static boolean inScope() {
    return SCOPE.get() != null;
  }

  /** See {@link #openScope()}. */
  public static final class Scope implements AutoCloseable {
    private final Scope parent;
    private final java.util.ArrayList<INDArray> owned = new java.util.ArrayList<>();
    private INDArray keep;
    private boolean closed;

    private Scope(Scope parent) {
      this.parent = parent;
    }

    /** The array (or a view of it) the scope's computation returns: its memory survives the scope. */
    public void keep(INDArray a) {
      keep = a;
    }

    /** Arrays allocated in this scope so far that are still live (for tests). */
    public int live() {
      int n = 0;
      for (INDArray a : owned) {
        n += a.wasClosed() ? 0 : 1;
      }
      return n;
    }

    /** Frees what the scope allocated, except the kept array's memory, which passes to the enclosing scope. */
    @Override
    public void close() {
      for (INDArray a : end()) {
        release(a);
      }
    }

    /**
     * Ends the scope without freeing anything: returns what {@link #close} would have freed, for an owner that
     * frees it later (a graph's nodes after backward: see {@code Node.releaseAfterBackward}).
     */
    public java.util.List<INDArray> handOver() {
      return end();
    }

    /** Ends the scope and leaves everything it allocated to the garbage collector (after an exception). */
    public void abandon() {
      end().clear();
    }

    private java.util.List<INDArray> end() {
      java.util.ArrayList<INDArray> rest = new java.util.ArrayList<>();
      if (closed) {
        return rest;
      }
      closed = true;
      if (SCOPE.get() != this) {
        throw new IllegalStateException("NativeMemory scopes closed out of order");
      }
      SCOPE.set(parent);
      long[] kept = keep == null || keep.wasClosed() ? null : addressRange(keep);
      for (INDArray a : owned) {
        if (a.wasClosed()) {
          continue;
        }
        long[] r = addressRange(a);
        if (kept != null && r[0] < kept[1] && kept[0] < r[1]) {
          if (parent != null) {
            parent.owned.add(a);
          }
        } else {
          rest.add(a);
        }
      }
      owned.clear();
      return rest;
    }
  }

  /** Bytes left to the garbage collector (beyond the allowance for memory in use) per collection request; 0: none. */
  public static long budgetBytes() {
    return BUDGET.budget();
  }

  /**
   * Bytes counted towards the next collection request: allocated (or, for ND4J's results of recorded ops, observed)
   * since the last request and not freed explicitly since. A steady training loop keeps it flat.
   */
  public static long unfreedBytes() {
    return BUDGET.unfreed();
  }

  /** Collections requested so far: the number of times Graft has called {@code System.gc()}. */
  public static long collections() {
    return GC_CALLS.get();
  }

  /** Checks of the resident set against the cap so far: each one read of {@code /proc/self/statm}. */
  public static long physicalChecks() {
    return CAP_CHECKS.get();
  }
}
