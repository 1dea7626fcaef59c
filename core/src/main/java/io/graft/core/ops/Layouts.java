package io.graft.core.ops;

import io.graft.core.NativeMemory;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.indexer.DoubleRawIndexer;
import org.bytedeco.javacpp.indexer.FloatRawIndexer;
import org.nd4j.linalg.api.buffer.DataType;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Copies between channels-first {@code (N, C, H, W)} and channels-last {@code (N, H, W, C)} layouts, for the kernels
 * that run faster channels-last. A blocked transpose per image, in Java over the native buffers: libnd4j's own
 * permuting copy took 20–35 ms for an 8×64×112×112 float array where this takes ~5 ms (a plain copy: ~2 ms).
 */
final class Layouts {
  private static final int BLOCK = 32;
  /** Elements per image from which images are transposed in parallel (common fork-join pool). */
  private static final long PARALLEL_MIN = 1 << 16;

  private Layouts() {}

  /** A new C-order {@code (N, H, W, C)} copy of a C-contiguous float32/float64 {@code (N, C, H, W)} array. */
  static INDArray toChannelsLast(INDArray x) {
    long[] s = x.shape();
    INDArray out = NativeMemory.uninitialized(x.dataType(), s[0], s[2], s[3], s[1]);
    transpose(x, out, s[0], s[1], s[2] * s[3]);
    return out;
  }

  /** A new C-order {@code (N, C, H, W)} copy of a C-contiguous float32/float64 {@code (N, H, W, C)} array. */
  static INDArray toChannelsFirst(INDArray y) {
    long[] s = y.shape();
    INDArray out = NativeMemory.uninitialized(y.dataType(), s[0], s[3], s[1], s[2]);
    transpose(y, out, s[0], s[1] * s[2], s[3]);
    return out;
  }

  /** Whether {@link #toChannelsLast}/{@link #toChannelsFirst} apply: float32/float64, C-contiguous, rank 4. */
  static boolean supported(INDArray a) {
    return (a.dataType() == DataType.FLOAT || a.dataType() == DataType.DOUBLE) && a.rank() == 4
        && ShapeOps.contiguous(a) == a && a.length() > 0;
  }

  /** For each of {@code n} images: dst (cols × rows) = transpose of src (rows × cols); images split over threads. */
  private static void transpose(INDArray src, INDArray dst, long n, long rows, long cols) {
    INDArray from = ownBuffer(src);
    long image = rows * cols;
    boolean isFloat = from.dataType() == DataType.FLOAT;
    Object si = isFloat ? floats(from) : doubles(from);
    Object di = isFloat ? floats(dst) : doubles(dst);
    IntStream images = IntStream.range(0, (int) n);
    (n > 1 && image >= PARALLEL_MIN ? images.parallel() : images).forEach(i -> {
      long sb = i * image;
      long db = i * image;
      for (long r0 = 0; r0 < rows; r0 += BLOCK) {
        long r1 = Math.min(rows, r0 + BLOCK);
        for (long c0 = 0; c0 < cols; c0 += BLOCK) {
          long c1 = Math.min(cols, c0 + BLOCK);
          if (isFloat) {
            block((FloatRawIndexer) si, (FloatRawIndexer) di, sb, db, rows, cols, r0, r1, c0, c1);
          } else {
            block((DoubleRawIndexer) si, (DoubleRawIndexer) di, sb, db, rows, cols, r0, r1, c0, c1);
          }
        }
      }
    });
  }

  private static void block(FloatRawIndexer s, FloatRawIndexer d, long sb, long db, long rows, long cols, long r0,
      long r1, long c0, long c1) {
    for (long c = c0; c < c1; c++) {
      long o = db + c * rows;
      for (long r = r0; r < r1; r++) {
        d.put(o + r, s.get(sb + r * cols + c));
      }
    }
  }

  private static void block(DoubleRawIndexer s, DoubleRawIndexer d, long sb, long db, long rows, long cols, long r0,
      long r1, long c0, long c1) {
    for (long c = c0; c < c1; c++) {
      long o = db + c * rows;
      for (long r = r0; r < r1; r++) {
        d.put(o + r, s.get(sb + r * cols + c));
      }
    }
  }

  /** The array itself when it starts its buffer and fills it, else a C-order copy (raw access reads whole buffers). */
  static INDArray ownBuffer(INDArray a) {
    return a.offset() != 0 || a.data().length() != a.length() ? a.dup('c') : a;
  }

  /** Raw (unchecked-offset) access to a float32 array's whole buffer. */
  static FloatRawIndexer floats(INDArray a) {
    return new FloatRawIndexer(new FloatPointer(a.data().pointer()).capacity(a.data().length()));
  }

  private static DoubleRawIndexer doubles(INDArray a) {
    return new DoubleRawIndexer(new DoublePointer(a.data().pointer()).capacity(a.data().length()));
  }
}
