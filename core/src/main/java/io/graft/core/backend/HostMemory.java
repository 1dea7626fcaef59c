package io.graft.core.backend;

import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.indexer.DoubleIndexer;
import org.bytedeco.javacpp.indexer.FloatIndexer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Host memory through javacpp, the native layer under ND4J: buffers Graft allocates and frees itself (for
 * {@link io.graft.core.NativeMemory}), bulk copies between Java arrays and an array's buffer (for the tensor file
 * readers and writers), and the native libraries loaded (for {@link io.graft.core.Backend}). With the kernels, the
 * only code outside this package that would otherwise see javacpp's types.
 */
public final class HostMemory {
  /** javacpp's system property for its resident-set cap, in both spellings it reads. */
  static final String JAVACPP_MAX_PHYSICAL = "org.bytedeco.javacpp.maxPhysicalBytes";
  static final String JAVACPP_MAX_PHYSICAL_LOWER = "org.bytedeco.javacpp.maxphysicalbytes";
  /** System property for Graft's resident-set cap (see {@link #physicalCap()}). */
  public static final String MAX_PHYSICAL_PROPERTY = "graft.maxPhysicalBytes";
  private static final long PHYSICAL_CAP;

  static {
    PHYSICAL_CAP = configure();
  }

  private HostMemory() {}

  /**
   * Turns javacpp's per-allocation physical-bytes check off and returns the cap Graft checks instead. With its
   * default {@code maxPhysicalBytes}, javacpp reads {@code /proc/self/statm} on every allocation that registers a
   * deallocator: each Graft buffer, each oneDNN call's argument list, and several per ND4J array (its shape
   * descriptors), about 1,400 reads per ResNet-18 step. Unless the user set javacpp's property (then it is kept, and
   * javacpp checks per allocation as asked), it is set to 0 here, before javacpp's {@code Pointer} class reads it:
   * this runs first in {@link io.graft.core.Backend#init} and in this class's initialiser, ahead of any javacpp
   * allocation by Graft. Too late (javacpp already initialised by other code) it changes nothing but the count.
   */
  private static long configure() {
    String user = System.getProperty(JAVACPP_MAX_PHYSICAL, System.getProperty(JAVACPP_MAX_PHYSICAL_LOWER));
    String graft = System.getProperty(MAX_PHYSICAL_PROPERTY);
    if (user != null && graft == null) {
      return 0;   // javacpp checks, as its user asked
    }
    if (user == null) {
      System.setProperty(JAVACPP_MAX_PHYSICAL, "0");
    }
    long heap = Runtime.getRuntime().maxMemory();
    if (graft != null) {
      try {
        return Pointer.parseBytes(graft.trim(), heap);
      } catch (NumberFormatException e) {
        throw new io.graft.core.GraftException("-D" + MAX_PHYSICAL_PROPERTY + "=" + graft
            + " is not a size (bytes, or a number with k, m, g or t)");
      }
    }
    long maxBytes = Pointer.maxBytes();   // javacpp's default for the same cap
    return maxBytes > 0 ? maxBytes + 3 * heap : 0;
  }

  /** Applies the settings of {@link #configure()} (idempotent; Graft's start-up calls it before ND4J loads). */
  public static void init() {
    // the class initialiser has done the work
  }

  /**
   * Graft's cap on the process's resident set in bytes, 0 for none: {@code -Dgraft.maxPhysicalBytes} (bytes, or
   * with k/m/g/t), by default what javacpp's {@code maxPhysicalBytes} defaults to (javacpp's {@code maxBytes}, by
   * default the maximum heap size, plus three times the maximum heap size). 0 when the user set javacpp's own
   * property instead (javacpp then checks every allocation). {@link io.graft.core.NativeMemory} checks it once per
   * {@code NativeMemory.PHYSICAL_CHECK_BYTES} allocated, not on every allocation.
   */
  public static long physicalCap() {
    return PHYSICAL_CAP;
  }

  /** The process's resident set in bytes (one read of {@code /proc/self/statm} on Linux). */
  public static long physicalBytes() {
    return Pointer.physicalBytes();
  }

  /** A buffer from {@link #allocate}: its allocation epoch, its size, and its explicit free. */
  public interface Owned {
    /** The value passed to {@link #allocate}. */
    long epoch();

    /** The buffer's size in bytes. */
    long bytes();

    /** Frees the memory now; the buffer must not be used again. */
    void free();
  }

  /**
   * An uninitialised float32 or float64 buffer of {@code n} elements, not cleared (ND4J's
   * {@code createUninitialized} clears its buffers); its pointer is an {@link Owned} carrying {@code epoch}. Freed
   * when unreachable, or at once by {@link Owned#free}.
   */
  public static DataBuffer allocate(DataType dtype, long n, long epoch) {
    if (dtype == DataType.FLOAT) {
      FloatPointer p = new OwnedFloats(n, epoch);
      return Nd4j.createBuffer(p, DataType.FLOAT, n, FloatIndexer.create(p));
    }
    if (dtype == DataType.DOUBLE) {
      DoublePointer p = new OwnedDoubles(n, epoch);
      return Nd4j.createBuffer(p, DataType.DOUBLE, n, DoubleIndexer.create(p));
    }
    throw new IllegalArgumentException("HostMemory.allocate: float32 or float64 only, got " + dtype);
  }

  /** The address of a buffer's memory (0 for none). */
  public static long address(DataBuffer b) {
    Pointer p = b.pointer();
    return p == null ? 0 : p.address();
  }

  /** Copies {@code len} bytes from {@code src[off...]} into {@code dst}'s memory at byte {@code at}. */
  public static void put(DataBuffer dst, long at, byte[] src, int off, int len) {
    new BytePointer(dst.addressPointer()).position(at).put(src, off, len);
  }

  /** Copies {@code len} floats from {@code src[off...]} into float32 {@code dst} at element {@code at}. */
  public static void put(DataBuffer dst, long at, float[] src, int off, int len) {
    new FloatPointer(dst.addressPointer()).position(at).put(src, off, len);
  }

  /** Copies {@code len} bytes of {@code src}'s memory from byte {@code at} into {@code dst[off...]}. */
  public static void get(DataBuffer src, long at, byte[] dst, int off, int len) {
    new BytePointer(src.addressPointer()).position(at).get(dst, off, len);
  }

  /** The native libraries javacpp has loaded: name to path. */
  public static Map<String, String> loadedLibraries() {
    return Loader.getLoadedLibraries();
  }

  private static final class OwnedFloats extends FloatPointer implements Owned {
    private final long epoch;

    OwnedFloats(long n, long epoch) {
      super(n);
      this.epoch = epoch;
    }

    @Override
    public long epoch() {
      return epoch;
    }

    @Override
    public long bytes() {
      return capacity() * sizeof();
    }

    @Override
    public void free() {
      deallocate();
    }
  }

  private static final class OwnedDoubles extends DoublePointer implements Owned {
    private final long epoch;

    OwnedDoubles(long n, long epoch) {
      super(n);
      this.epoch = epoch;
    }

    @Override
    public long epoch() {
      return epoch;
    }

    @Override
    public long bytes() {
      return capacity() * sizeof();
    }

    @Override
    public void free() {
      deallocate();
    }
  }
}
