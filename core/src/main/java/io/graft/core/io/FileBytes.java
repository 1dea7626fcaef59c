package io.graft.core.io;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Reads a region of a file for a parser: regions under {@link #MAP_THRESHOLD} bytes are copied into the heap, larger
 * ones are memory-mapped read-only.
 *
 * <p>Why not always map: a mapping is released only when the garbage collector finds its buffer unreachable, and
 * Linux allows a process about 65,530 mappings ({@code vm.max_map_count}). A loop that opens many small files (a
 * fuzzer, a data set of small tensors, an executor that loads adapters) can run out of mappings between two
 * collections, and the JVM then aborts with "Not enough space". With the threshold, the number of live mappings is
 * bounded by the mapped bytes over 1 MiB, and a small file costs one heap copy of itself.
 */
public final class FileBytes {
  /** Regions of at least this many bytes (1 MiB) are mapped; smaller ones are read into the heap. */
  public static final long MAP_THRESHOLD = 1L << 20;

  private FileBytes() {}

  /**
   * {@code length} bytes of {@code ch} from {@code offset}, positioned at 0, in big-endian order as any new buffer.
   *
   * @throws EOFException if the file ends before {@code offset + length}
   */
  public static ByteBuffer read(FileChannel ch, long offset, long length) throws IOException {
    if (offset < 0 || length < 0 || length > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("file region " + offset + "+" + length);
    }
    if (length >= MAP_THRESHOLD) {
      return ch.map(FileChannel.MapMode.READ_ONLY, offset, length);
    }
    ByteBuffer b = ByteBuffer.allocate((int) length);
    while (b.hasRemaining()) {
      if (ch.read(b, offset + b.position()) < 0) {
        throw new EOFException("file ends at byte " + (offset + b.position()) + " of " + (offset + length));
      }
    }
    return b.flip();
  }
}
