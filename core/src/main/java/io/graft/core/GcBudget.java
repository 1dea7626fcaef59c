package io.graft.core;

/**
 * When {@link NativeMemory} requests a garbage collection: it counts the native bytes Graft allocates and frees, and
 * says when what is left to the collector calls for one (the policy is described on {@link NativeMemory}). Memory
 * freed explicitly never calls for one, however much of it passes through: only what is still unfreed counts. Epochs
 * number the collection requests, so that memory counted before a request and freed after it is not uncounted
 * twice: it was in use when the collector ran, and sets the allowance for memory in use.
 */
final class GcBudget {
  private final long budget;
  /** Bytes counted since the last request and not freed since. */
  private long unfreed;
  /** Bytes counted before the last request and freed after it. */
  private long freedAfter;
  /** The largest {@link #freedAfter} seen: memory in use when a collection was requested. */
  private long allowance;
  private long epoch;

  /** {@code budget}: bytes left to the collector beyond the allowance per request; 0 or less: never request. */
  GcBudget(long budget) {
    this.budget = budget;
  }

  /** Counts an allocation; true when a collection is due now (a new epoch has begun). */
  synchronized boolean allocated(long bytes) {
    if (budget <= 0) {
      return false;
    }
    unfreed += bytes;
    if (unfreed - allowance < budget) {
      return false;
    }
    unfreed = 0;
    freedAfter = 0;
    epoch++;
    return true;
  }

  /** The bytes counted in the current epoch and not freed since (for tests). */
  synchronized long unfreed() {
    return unfreed;
  }

  /** Uncounts {@code bytes} allocated in epoch {@code at} and freed now. */
  synchronized void freed(long at, long bytes) {
    if (at == epoch) {
      unfreed = Math.max(0, unfreed - bytes);
    } else if (at == epoch - 1) {
      freedAfter += bytes;
      allowance = Math.max(allowance, freedAfter);
    }
  }

  /** The current epoch: the number of collections requested so far. */
  synchronized long epoch() {
    return epoch;
  }

  long budget() {
    return budget;
  }

  synchronized long allowance() {
    return allowance;
  }
}
