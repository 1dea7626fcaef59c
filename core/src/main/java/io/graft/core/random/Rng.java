package io.graft.core.random;

/**
 * An explicit, seeded random generator (SplitMix64 stream plus a cached Gaussian spare). Graft never uses a
 * hidden global generator: initialisation, dropout, shuffling and augmentation each take an {@code Rng}.
 * The whole state is two numbers, so it can be saved in a checkpoint and restored exactly
 * ({@link #state()} / {@link #restore(State)}).
 */
public final class Rng {
  private static final long GOLDEN = 0x9E3779B97F4A7C15L;
  private long state;
  private double spare;
  private boolean hasSpare;

  /** A generator whose stream is fixed by {@code seed}: the same seed gives the same values on every machine. */
  public Rng(long seed) {
    this.state = seed;
  }

  /** The generator's complete state. */
  public record State(long counter, boolean hasSpare, double spare) {}

  /** The generator's complete state now, for a checkpoint. */
  public State state() {
    return new State(state, hasSpare, spare);
  }

  /**
   * Puts the generator back in state {@code s} (from {@link #state()}): it then yields the same values as when the
   * state was taken.
   */
  public void restore(State s) {
    state = s.counter();
    hasSpare = s.hasSpare();
    spare = s.spare();
  }

  /**
   * A seed derived from several numbers (e.g. seed, epoch, example index) by SplitMix64 finalisation, so that
   * {@code new Rng(mix(seed, epoch, i))} streams are independent of each other and of thread scheduling.
   */
  public static long mix(long... parts) {
    long h = 0x2545F4914F6CDD1DL;
    for (long p : parts) {
      h += GOLDEN + p;
      h = (h ^ (h >>> 30)) * 0xBF58476D1CE4E5B9L;
      h = (h ^ (h >>> 27)) * 0x94D049BB133111EBL;
      h ^= h >>> 31;
    }
    return h;
  }

  /** A new generator whose stream is independent of this one (consumes one value of this stream). */
  public Rng fork() {
    return new Rng(nextLong());
  }

  /** The next 64 uniformly random bits (SplitMix64). */
  public long nextLong() {
    long z = (state += GOLDEN);
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** Uniform in [0, 1) with 53 random bits. */
  public double nextDouble() {
    return (nextLong() >>> 11) * 0x1.0p-53;
  }

  /** Uniform in [0, 1) with 24 random bits. */
  public float nextFloat() {
    return (nextLong() >>> 40) * 0x1.0p-24f;
  }

  /** Uniform integer in [0, bound). */
  public int nextInt(int bound) {
    if (bound <= 0) {
      throw new IllegalArgumentException("nextInt: bound must be positive, got " + bound);
    }
    // Lemire's multiply-shift with rejection: unbiased.
    long m = (nextLong() >>> 32) * bound;
    long low = m & 0xFFFFFFFFL;
    if (low < bound) {
      long threshold = (0x100000000L - bound) % bound;
      while (low < threshold) {
        m = (nextLong() >>> 32) * bound;
        low = m & 0xFFFFFFFFL;
      }
    }
    return (int) (m >>> 32);
  }

  /** Standard normal (Marsaglia polar method). */
  public double nextGaussian() {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    double u, v, s;
    do {
      u = 2 * nextDouble() - 1;
      v = 2 * nextDouble() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s == 0);
    double mul = Math.sqrt(-2 * Math.log(s) / s);
    spare = v * mul;
    hasSpare = true;
    return u * mul;
  }

  /** In-place Fisher–Yates shuffle. */
  public void shuffle(int[] a) {
    for (int i = a.length - 1; i > 0; i--) {
      int j = nextInt(i + 1);
      int t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  /** {@code [0, n)} in random order. */
  public int[] permutation(int n) {
    int[] p = new int[n];
    for (int i = 0; i < n; i++) {
      p[i] = i;
    }
    shuffle(p);
    return p;
  }
}
