package io.graft.core.io;

import io.graft.core.Backend;
import io.graft.core.GraftException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

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

  /** Decodes {@code b} (exactly numel × element size bytes, little-endian) into a tensor of {@code shape}. */
  public static Tensor decode(String dtype, long[] shape, ByteBuffer b) {
    Backend.init(); // may run before any Tensor exists (reading a file first): choose the native build first
    b = b.order(ByteOrder.LITTLE_ENDIAN);
    long numel = Shapes.numel(Shapes.checkNew("decode " + dtype, shape));
    int n = Math.toIntExact(numel);
    if ((long) n * elementSize(dtype) != b.remaining()) {
      throw new GraftException("decode " + dtype + Shapes.str(shape) + ": expected " + (long) n * elementSize(dtype)
          + " bytes, got " + b.remaining());
    }
    INDArray flat;
    switch (dtype) {
      case "F32" -> {
        float[] v = new float[n];
        b.asFloatBuffer().get(v);
        flat = Nd4j.createFromArray(v);
      }
      case "F64" -> {
        double[] v = new double[n];
        b.asDoubleBuffer().get(v);
        flat = Nd4j.createFromArray(v);
      }
      case "F16", "BF16" -> {
        float[] v = new float[n];
        boolean half = dtype.equals("F16");
        for (int i = 0; i < n; i++) {
          short s = b.getShort(2 * i);
          v[i] = half ? halfToFloat(s) : Float.intBitsToFloat((s & 0xFFFF) << 16);
        }
        flat = Nd4j.createFromArray(v);
      }
      case "I64" -> {
        long[] v = new long[n];
        b.asLongBuffer().get(v);
        flat = Nd4j.createFromArray(v);
      }
      case "I32" -> {
        int[] v = new int[n];
        b.asIntBuffer().get(v);
        flat = Nd4j.createFromArray(v);
      }
      case "I16" -> {
        short[] v = new short[n];
        b.asShortBuffer().get(v);
        flat = Nd4j.createFromArray(v);
      }
      case "I8" -> {
        byte[] v = new byte[n];
        b.get(v);
        flat = Nd4j.createFromArray(v);
      }
      case "U8" -> {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
          v[i] = b.get(i) & 0xFF;
        }
        flat = Nd4j.createFromArray(v).castTo(DataType.UBYTE);
      }
      case "BOOL" -> {
        boolean[] v = new boolean[n];
        for (int i = 0; i < n; i++) {
          v[i] = b.get(i) != 0;
        }
        flat = Nd4j.createFromArray(v);
      }
      default -> throw new GraftException("unsupported dtype '" + dtype + "'");
    }
    return Tensor.of(reshape(flat, shape));
  }

  private static INDArray reshape(INDArray flat, long[] shape) {
    if (shape.length == 0) {
      return Nd4j.scalar(flat.dataType(), 0).assign(flat.getDouble(0));
    }
    if (flat.length() == 0) {
      return Nd4j.create(flat.dataType(), shape);
    }
    return flat.reshape('c', shape);
  }

  /** Little-endian C-order bytes of an array. */
  public static byte[] encode(INDArray a) {
    INDArray c = a.dup('c');
    int n = Math.toIntExact(c.length());
    String dtype = dtypeName(c.dataType());
    ByteBuffer b = ByteBuffer.allocate(n * elementSize(dtype)).order(ByteOrder.LITTLE_ENDIAN);
    if (n == 0) {
      return b.array();
    }
    switch (c.dataType()) {
      case FLOAT -> b.asFloatBuffer().put(c.data().asFloat());
      case DOUBLE -> b.asDoubleBuffer().put(c.data().asDouble());
      case LONG -> b.asLongBuffer().put(c.data().asLong());
      case INT -> b.asIntBuffer().put(c.data().asInt());
      case HALF, BFLOAT16 -> {
        float[] v = c.castTo(DataType.FLOAT).data().asFloat();
        for (int i = 0; i < n; i++) {
          b.putShort(2 * i, c.dataType() == DataType.HALF ? floatToHalf(v[i]) : floatToBfloat16(v[i]));
        }
      }
      case SHORT -> {
        int[] v = c.castTo(DataType.INT).data().asInt();
        for (int i = 0; i < n; i++) {
          b.putShort(2 * i, (short) v[i]);
        }
      }
      case BYTE, UBYTE, BOOL -> {
        int[] v = c.castTo(DataType.INT).data().asInt();
        for (int i = 0; i < n; i++) {
          b.put(i, (byte) v[i]);
        }
      }
      default -> throw new GraftException("cannot encode ND4J type " + c.dataType());
    }
    return b.array();
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
