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
  private HostMemory() {}

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
