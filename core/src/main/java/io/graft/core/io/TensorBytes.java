package io.graft.core.io;

import io.graft.core.Backend;
import io.graft.core.GraftException;
import io.graft.core.Layout;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.backend.HostMemory;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Raw little-endian C-order bytes ⇄ tensors, for the dtype names shared by safetensors and PyTorch storages
 * ({@code F32 F64 F16 BF16 I64 I32 I16 I8 U8 BOOL}). float16 and bfloat16 are widened to float32.
 */
public final class TensorBytes {
  private TensorBytes() {}

  /** Bytes per element of a dtype name, or -1 if unknown. */
  public static int elementSize(String dtype) {
    return switch (dtype) {
      case "F64", "I64" -> 8;
      case "F32", "I32" -> 4;
      case "F16", "BF16", "I16" -> 2;
      case "I8", "U8", "BOOL" -> 1;
      default -> -1;
    };
  }

  /**
   * The safetensors dtype name of an ND4J data type ({@code "F32"}, {@code "I64"}, ...); throws for a type safetensors
   * cannot hold.
   */
  public static String dtypeName(DataType t) {
    return switch (t) {
      case FLOAT -> "F32";
      case DOUBLE -> "F64";
      case HALF -> "F16";
      case BFLOAT16 -> "BF16";
      case LONG -> "I64";
      case INT -> "I32";
      case SHORT -> "I16";
      case BYTE -> "I8";
      case UBYTE -> "U8";
      case BOOL -> "BOOL";
      default -> throw new GraftException("no file dtype for ND4J type " + t);
    };
  }

  /**
   * Bytes of a tensor in a file, in order: {@link #decode(String, long[], Source)} pulls them in chunks of at most
   * {@link #CHUNK} bytes, so a reader never needs the whole tensor as one Java array.
   */
  @FunctionalInterface
  public interface Source {
    /** Fills {@code dst[off, off + len)} with the next {@code len} bytes. */
    void next(byte[] dst, int off, int len);
  }

  /** The most bytes decoded or encoded at a time: the only Java-heap buffer a tensor costs beyond its own memory. */
  public static final int CHUNK = 1 << 20;

  /** Bytes of {@code numel} elements of {@code dtype}, refusing an unknown dtype and overflow. */
  public static long byteSize(String dtype, long numel) {
    int es = elementSize(dtype);
    if (es < 0) {
      throw new GraftException("unsupported dtype '" + dtype + "'");
    }
    if (numel < 0 || numel > Long.MAX_VALUE / es) {
      throw new GraftException(numel + " elements of " + dtype + " overflow a byte count");
    }
    return numel * es;
  }

  /** Decodes {@code b} (exactly numel × element size bytes, little-endian) into a tensor of {@code shape}. */
  public static Tensor decode(String dtype, long[] shape, ByteBuffer b) {
    ByteBuffer in = b.duplicate();
    long numel = Shapes.numel(Shapes.checkNew("decode " + dtype, shape));
    long bytes = byteSize(dtype, numel);
    if (bytes != in.remaining()) {
      throw new GraftException("decode " + dtype + Shapes.str(shape) + ": expected " + bytes + " bytes, got "
          + in.remaining());
    }
    return decode(dtype, shape, (dst, off, len) -> in.get(dst, off, len));
  }

  /**
   * Decodes numel × element size little-endian bytes pulled from {@code src} into a new tensor of {@code shape},
   * straight into its native buffer, {@link #CHUNK} bytes at a time: float16 and bfloat16 are widened to float32 on
   * the way, booleans normalised to 0/1. Memory: the tensor itself plus one chunk.
   */
  public static Tensor decode(String dtype, long[] shape, Source src) {
    Backend.init(); // may run before any Tensor exists (reading a file first): choose the native build first
    long numel = Shapes.numel(Shapes.checkNew("decode " + dtype, shape));
    int es = elementSize(dtype);
    DataType target = switch (dtype) {
      case "F32", "F16", "BF16" -> DataType.FLOAT;
      case "F64" -> DataType.DOUBLE;
      case "I64" -> DataType.LONG;
      case "I32" -> DataType.INT;
      case "I16" -> DataType.SHORT;
      case "I8" -> DataType.BYTE;
      case "U8" -> DataType.UBYTE;
      case "BOOL" -> DataType.BOOL;
      default -> throw new GraftException("unsupported dtype '" + dtype + "'");
    };
    if (numel == 0) {
      return Tensor.of(Nd4j.create(target, shape));
    }
    INDArray flat = Nd4j.createUninitialized(target, numel);
    boolean widen = dtype.equals("F16") || dtype.equals("BF16");
    boolean half = dtype.equals("F16");
    boolean swap = es > 1 && ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN;
    long total = numel * es;
    byte[] chunk = new byte[(int) Math.min(CHUNK, total)];
    ByteBuffer view = ByteBuffer.wrap(chunk).order(ByteOrder.LITTLE_ENDIAN);
    float[] widened = widen ? new float[chunk.length / 2] : null;
    for (long done = 0; done < total; ) {
      int m = (int) Math.min(chunk.length, total - done);
      src.next(chunk, 0, m);
      if (widen) {
        for (int i = 0; i < m / 2; i++) {
          short s = view.getShort(2 * i);
          widened[i] = half ? halfToFloat(s) : Float.intBitsToFloat((s & 0xFFFF) << 16);
        }
        HostMemory.put(flat.data(), done / 2, widened, 0, m / 2);
      } else {
        if (target == DataType.BOOL) {
          for (int i = 0; i < m; i++) {
            chunk[i] = (byte) (chunk[i] != 0 ? 1 : 0);
          }
        } else if (swap) {
          reverseElements(chunk, m, es);
        }
        HostMemory.put(flat.data(), done, chunk, 0, m);
      }
      done += m;
    }
    return Tensor.of(reshape(flat, shape));
  }

  private static void reverseElements(byte[] b, int len, int es) {
    for (int i = 0; i < len; i += es) {
      for (int j = 0; j < es / 2; j++) {
        byte t = b[i + j];
        b[i + j] = b[i + es - 1 - j];
        b[i + es - 1 - j] = t;
      }
    }
  }

  private static INDArray reshape(INDArray flat, long[] shape) {
    if (shape.length == 0) {
      return flat.reshape('c');
    }
    return flat.reshape('c', shape);
  }

  /** Bytes {@link #write} produces for an array: numel × element size of its file dtype, as a long. */
  public static long byteSize(INDArray a) {
    return byteSize(dtypeName(a.dataType()), a.length());
  }

  /**
   * Writes an array's little-endian C-order bytes to {@code out} in chunks of at most {@link #CHUNK} bytes: no copy
   * of the whole array is made, whatever its size or layout (a non-contiguous view is copied out one bounded block at
   * a time). Returns the number of bytes written, {@link #byteSize(INDArray)}.
   */
  public static long write(INDArray a, OutputStream out) throws IOException {
    long expected = byteSize(a);
    long[] written = {0};
    if (a.length() > 0) {
      byte[] chunk = new byte[(int) Math.min(CHUNK, expected)];
      writeBlock(a.rank() == 0 ? a.reshape(1) : a, 0, out, chunk, written);
    }
    if (written[0] != expected) {
      throw new GraftException("encode " + a.dataType() + Shapes.str(a.shape()) + ": wrote " + written[0]
          + " bytes, expected " + expected);
    }
    return expected;
  }

  /**
   * Writes {@code a} (rank ≥ 1, not empty; dimensions before {@code dim} already narrowed to one index) as dense
   * blocks of at most one chunk: consecutive slices along {@code dim}, or, when one slice is larger than a chunk,
   * each slice on its own along the next dimension.
   */
  private static void writeBlock(INDArray a, int dim, OutputStream out, byte[] chunk, long[] written)
      throws IOException {
    int es = a.dataType().width();
    if (isDense(a)) {
      copyOut(a, out, chunk, written);
      return;
    }
    if (a.length() * es <= chunk.length) {
      INDArray c = a.dup('c');
      copyOut(c, out, chunk, written);
      c.close();
      return;
    }
    long[] shape = a.shape();
    long rowBytes = es;
    for (int d = dim + 1; d < shape.length; d++) {
      rowBytes *= shape[d];
    }
    long rows = rowBytes > chunk.length && dim < shape.length - 1 ? 1 : Math.max(1, chunk.length / rowBytes);
    for (long i = 0; i < shape[dim]; i += rows) {
      INDArrayIndex[] idx = new INDArrayIndex[shape.length];
      for (int d = 0; d < idx.length; d++) {
        idx[d] = d == dim ? NDArrayIndex.interval(i, Math.min(shape[dim], i + rows)) : NDArrayIndex.all();
      }
      INDArray block = a.get(idx);
      if (rows == 1 && rowBytes > chunk.length) {
        writeBlock(block, dim + 1, out, chunk, written);
      } else {
        INDArray c = block.dup('c');
        copyOut(c, out, chunk, written);
        c.close();
      }
    }
  }

  /**
   * An array laid out in C order over its whole buffer from offset 0 (a fresh array, or a reshape of one). Arrays with
   * an offset are copied out block by block instead: a view's buffer pointer may already include its offset.
   */
  private static boolean isDense(INDArray a) {
    if (a.offset() != 0 || a.length() != a.data().length()) {
      return false;
    }
    return Layout.isCContiguous(a.shape(), a.stride());
  }

  /** Copies a dense array's native bytes (little-endian on disk) to {@code out}, one chunk at a time. */
  private static void copyOut(INDArray a, OutputStream out, byte[] chunk, long[] written) throws IOException {
    int es = a.dataType().width();
    long total = a.length() * es;
    long base = 0;
    boolean swap = es > 1 && ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN;
    for (long done = 0; done < total; ) {
      int m = (int) Math.min(chunk.length, total - done);
      HostMemory.get(a.data(), base + done, chunk, 0, m);
      if (swap) {
        reverseElements(chunk, m, es);
      }
      out.write(chunk, 0, m);
      done += m;
    }
    written[0] += total;
  }

  /** Little-endian C-order bytes of an array, for arrays under 2 GiB (larger ones: {@link #write}). */
  public static byte[] encode(INDArray a) {
    long size = byteSize(a);
    if (size > Integer.MAX_VALUE - 8) {
      throw new GraftException("encode " + a.dataType() + Shapes.str(a.shape()) + ": " + size
          + " bytes do not fit one array; stream it with TensorBytes.write");
    }
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream((int) size);
    try {
      write(a, out);
    } catch (IOException e) {
      throw new GraftException("encode: " + e.getMessage(), e);
    }
    return out.toByteArray();
  }

  /** IEEE 754 binary16 → float. */
  public static float halfToFloat(short h) {
    int bits = h & 0xFFFF;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1F;
    int mant = bits & 0x3FF;
    if (exp == 0x1F) {
      return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
    }
    if (exp == 0) {
      if (mant == 0) {
        return Float.intBitsToFloat(sign);
      }
      float v = mant * 0x1.0p-24f;
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  /** float → IEEE 754 binary16, rounding to nearest even. */
  public static short floatToHalf(float f) {
    int bits = Float.floatToRawIntBits(f);
    int sign = (bits >>> 16) & 0x8000;
    int exp = (bits >>> 23) & 0xFF;
    int mant = bits & 0x7FFFFF;
    if (exp == 0xFF) {
      return (short) (sign | 0x7C00 | (mant != 0 ? 0x200 : 0));
    }
    int e = exp - 127 + 15;
    if (e >= 0x1F) {
      return (short) (sign | 0x7C00);
    }
    if (e <= 0) {
      if (e < -10) {
        return (short) sign;
      }
      mant |= 0x800000;
      int shift = 14 - e;
      int half = mant >> shift;
      int rem = mant & ((1 << shift) - 1);
      int mid = 1 << (shift - 1);
      if (rem > mid || (rem == mid && (half & 1) != 0)) {
        half++;
      }
      return (short) (sign | half);
    }
    int half = (e << 10) | (mant >> 13);
    int rem = mant & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1) != 0)) {
      half++;
    }
    return (short) (sign | half);
  }

  /** float → bfloat16, rounding to nearest even. */
  public static short floatToBfloat16(float f) {
    int bits = Float.floatToRawIntBits(f);
    if (Float.isNaN(f)) {
      return (short) ((bits >>> 16) | 0x40);
    }
    int rounding = 0x7FFF + ((bits >>> 16) & 1);
    return (short) ((bits + rounding) >>> 16);
  }
}
