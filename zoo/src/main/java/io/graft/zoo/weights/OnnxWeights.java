package io.graft.zoo.weights;

import com.google.protobuf.CodedInputStream;
import io.graft.core.GraftException;
import io.graft.core.Shapes;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.FileBytes;
import io.graft.core.io.TensorBytes;
import io.graft.zoo.onnx.proto.Onnx;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * ONNX files: the model proto (parsed with {@code io.graft.zoo.onnx.proto.Onnx}, generated in the build from
 * zoo's onnx.proto) and its initializers as named tensors, including external data and {@code Identity}-deduplicated
 * initializers.
 *
 * <p>PyTorch's default eval-mode export fuses Conv+BatchNorm and renames weights ({@code onnx::Conv_193}); such a
 * file's initializers cannot be loaded into a module by name. {@link #isFusedExport} detects it, and
 * {@link Weights#loadInto} says so instead of listing hundreds of missing keys.
 */
public final class OnnxWeights {
  private OnnxWeights() {}

  /** Parses an ONNX model, with a clear error for anything that is not one. */
  public static Onnx.ModelProto model(Path path) {
    String src = path.toString();
    if (!Files.isRegularFile(path)) {
      throw new GraftException(src + ": no such file");
    }
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      if (ch.size() > Integer.MAX_VALUE) {
        throw new GraftException(src + ": ONNX protobufs are limited to 2 GiB; larger models keep their weights in "
            + "external data files");
      }
      ByteBuffer buf = FileBytes.read(ch, 0, ch.size());
      CodedInputStream in = CodedInputStream.newInstance(buf);
      in.setSizeLimit(Integer.MAX_VALUE);
      in.setRecursionLimit(200);
      Onnx.ModelProto m = Onnx.ModelProto.parseFrom(in);
      if (!m.hasGraph() || m.getIrVersion() == 0) {
        throw new GraftException(src + ": not an ONNX model (no graph or IR version)");
      }
      return m;
    } catch (IOException e) {
      throw new GraftException(src + ": not a readable ONNX file (" + e.getMessage() + ")", e);
    } catch (RuntimeException e) {
      if (e instanceof GraftException g) {
        throw g;
      }
      throw new GraftException(src + ": corrupt ONNX file (" + e + ")", e);
    }
  }

  /** The safetensors-style name of an ONNX tensor data type ({@code F32}, {@code F16}, {@code I64}, ...). */
  static String dtypeName(int onnxType, String what) {
    return switch (onnxType) {
      case Onnx.TensorProto.DataType.FLOAT_VALUE -> "F32";
      case Onnx.TensorProto.DataType.DOUBLE_VALUE -> "F64";
      case Onnx.TensorProto.DataType.FLOAT16_VALUE -> "F16";
      case Onnx.TensorProto.DataType.BFLOAT16_VALUE -> "BF16";
      case Onnx.TensorProto.DataType.INT64_VALUE -> "I64";
      case Onnx.TensorProto.DataType.INT32_VALUE -> "I32";
      case Onnx.TensorProto.DataType.INT16_VALUE -> "I16";
      case Onnx.TensorProto.DataType.INT8_VALUE -> "I8";
      case Onnx.TensorProto.DataType.UINT8_VALUE -> "U8";
      case Onnx.TensorProto.DataType.BOOL_VALUE -> "BOOL";
      case Onnx.TensorProto.DataType.UINT16_VALUE -> "U16";
      case Onnx.TensorProto.DataType.UINT32_VALUE -> "U32";
      case Onnx.TensorProto.DataType.UINT64_VALUE -> "U64";
      default -> throw new GraftException(what + " has unsupported ONNX data type " + onnxType);
    };
  }

  /** Initializers by name, in file order, plus names that {@code Identity} nodes give to an initializer. */
  public static StateDict read(Path path) {
    return read(path, null);
  }

  /** As {@link #read(Path)}, also filling {@code storedDtypes} (when not null) with each tensor's ONNX type. */
  public static StateDict read(Path path, Map<String, String> storedDtypes) {
    Onnx.ModelProto m = model(path);
    StateDict sd = new StateDict();
    Path dir = path.toAbsolutePath().getParent();
    for (Onnx.TensorProto t : m.getGraph().getInitializerList()) {
      sd.put(t.getName(), tensor(t, dir, path.toString()));
      if (storedDtypes != null) {
        storedDtypes.put(t.getName(), dtypeName(t.getDataType(), path + ": tensor '" + t.getName() + "'"));
      }
    }
    for (Onnx.NodeProto n : m.getGraph().getNodeList()) {
      if (n.getOpType().equals("Identity") && n.getInputCount() == 1 && n.getOutputCount() == 1) {
        Tensor src = sd.get(n.getInput(0));
        if (src != null && !sd.containsKey(n.getOutput(0))) {
          sd.put(n.getOutput(0), src);
          if (storedDtypes != null) {
            storedDtypes.put(n.getOutput(0), storedDtypes.get(n.getInput(0)));
          }
        }
      }
    }
    return sd;
  }

  /** Whether the export fused BatchNorm into Conv and renamed the weights (PyTorch's eval-mode default). */
  public static boolean isFusedExport(StateDict initializers) {
    for (String k : initializers.keys()) {
      if (k.startsWith("onnx::")) {
        return true;
      }
    }
    return false;
  }

  /** Decodes a TensorProto (raw_data, typed fields or external data) into a tensor, checking sizes first. */
  public static Tensor tensor(Onnx.TensorProto t, Path baseDir, String src) {
    String what = src + ": tensor '" + t.getName() + "'";
    long[] shape = new long[t.getDimsCount()];
    for (int i = 0; i < shape.length; i++) {
      shape[i] = t.getDims(i);
    }
    Shapes.checkNew(what, shape);
    long numel = Shapes.numel(shape);
    int onnxType = t.getDataType();
    if (onnxType == Onnx.TensorProto.DataType.UINT16_VALUE || onnxType == Onnx.TensorProto.DataType.UINT32_VALUE
        || onnxType == Onnx.TensorProto.DataType.UINT64_VALUE) {
      return unsigned(t, shape, numel, what);
    }
    String dtype = dtypeName(onnxType, what);
    int es = TensorBytes.elementSize(dtype);
    long bytes = numel * es;   // numel < 2^31 (checkNew), es <= 8
    if (bytes > Integer.MAX_VALUE - 8) {
      throw new GraftException(what + " has shape " + Shapes.str(shape) + ": " + bytes + " bytes, more than one "
          + "tensor can hold");
    }
    if (t.getDataLocation() == Onnx.TensorProto.DataLocation.EXTERNAL) {
      return TensorBytes.decode(dtype, shape, external(t, baseDir, bytes, what));
    }
    if (!t.getRawData().isEmpty()) {
      if (t.getRawData().size() != bytes) {
        throw new GraftException(what + " has " + t.getRawData().size() + " bytes of raw data; shape "
            + Shapes.str(shape) + " " + dtype + " needs " + bytes);
      }
      return TensorBytes.decode(dtype, shape, t.getRawData().asReadOnlyByteBuffer().slice()
          .order(ByteOrder.LITTLE_ENDIAN));
    }
    int declared = switch (dtype) {   // check the value count before allocating anything for it
      case "F32" -> t.getFloatDataCount();
      case "F64" -> t.getDoubleDataCount();
      case "I64" -> t.getInt64DataCount();
      default -> t.getInt32DataCount();
    };
    check(declared, numel, what);
    ByteBuffer b = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
    int count;
    switch (dtype) {
      case "F32" -> {
        count = t.getFloatDataCount();
        check(count, numel, what);
        t.getFloatDataList().forEach(b::putFloat);
      }
      case "F64" -> {
        count = t.getDoubleDataCount();
        check(count, numel, what);
        t.getDoubleDataList().forEach(b::putDouble);
      }
      case "I64" -> {
        count = t.getInt64DataCount();
        check(count, numel, what);
        t.getInt64DataList().forEach(b::putLong);
      }
      default -> {
        // int32_data holds INT32, INT16, INT8, UINT8, BOOL, FLOAT16 and BFLOAT16 (as their bit patterns)
        count = t.getInt32DataCount();
        check(count, numel, what);
        for (int v : t.getInt32DataList()) {
          switch (es) {
            case 4 -> b.putInt(v);
            case 2 -> b.putShort((short) v);
            default -> b.put((byte) v);
          }
        }
      }
    }
    b.flip();
    return TensorBytes.decode(dtype, shape, b);
  }

  /**
   * Unsigned integers, which ND4J lacks as Graft tensors, widened to the next signed type: UINT16 to int32,
   * UINT32 to int64; UINT64 to int64 (values above 2^63 - 1 are refused).
   */
  private static Tensor unsigned(Onnx.TensorProto t, long[] shape, long numel, String what) {
    int type = t.getDataType();
    int width = type == Onnx.TensorProto.DataType.UINT16_VALUE ? 2 : type == Onnx.TensorProto.DataType.UINT32_VALUE
        ? 4 : 8;
    if (t.getDataLocation() == Onnx.TensorProto.DataLocation.EXTERNAL) {
      throw new GraftException(what + ": unsigned integer tensors in external data are not supported");
    }
    int n = Math.toIntExact(numel);
    long available = !t.getRawData().isEmpty() ? t.getRawData().size() / width
        : width == 2 ? t.getInt32DataCount() : t.getUint64DataCount();
    if (available != numel || numel > (Integer.MAX_VALUE - 8) / 8) {
      throw new GraftException(what + " holds " + available + " values, its shape " + Shapes.str(shape) + " needs "
          + numel);
    }
    long[] v = new long[n];
    if (!t.getRawData().isEmpty()) {
      if (t.getRawData().size() != numel * width) {
        throw new GraftException(what + " has " + t.getRawData().size() + " bytes of raw data; shape "
            + Shapes.str(shape) + " needs " + numel * width);
      }
      ByteBuffer b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < n; i++) {
        v[i] = width == 2 ? b.getShort(2 * i) & 0xFFFFL : width == 4 ? b.getInt(4 * i) & 0xFFFFFFFFL : b.getLong(8 * i);
      }
    } else if (width == 2) {
      check(t.getInt32DataCount(), numel, what);
      for (int i = 0; i < n; i++) {
        v[i] = t.getInt32Data(i) & 0xFFFFL;
      }
    } else {
      check(t.getUint64DataCount(), numel, what);
      for (int i = 0; i < n; i++) {
        v[i] = t.getUint64Data(i);
      }
    }
    ByteBuffer out = ByteBuffer.allocate(n * (width == 2 ? 4 : 8)).order(ByteOrder.LITTLE_ENDIAN);
    for (long x : v) {
      if (width == 8 && x < 0) {
        throw new GraftException(what + ": UINT64 value " + Long.toUnsignedString(x) + " does not fit int64");
      }
      if (width == 2) {
        out.putInt((int) x);
      } else {
        out.putLong(x);
      }
    }
    out.flip();
    return TensorBytes.decode(width == 2 ? "I32" : "I64", shape, out);
  }

  private static void check(int count, long numel, String what) {
    if (count != numel) {
      throw new GraftException(what + " holds " + count + " values, its shape needs " + numel);
    }
  }

  private static ByteBuffer external(Onnx.TensorProto t, Path baseDir, long bytes, String what) {
    Map<String, String> kv = new java.util.HashMap<>();
    for (Onnx.StringStringEntryProto e : t.getExternalDataList()) {
      kv.put(e.getKey(), e.getValue());
    }
    String location = kv.get("location");
    if (location == null || baseDir == null) {
      throw new GraftException(what + " is stored externally but names no location");
    }
    Path file = contained(baseDir, location, what);
    long offset = parse(kv.getOrDefault("offset", "0"), what);
    long length = parse(kv.getOrDefault("length", String.valueOf(bytes)), what);
    if (length != bytes) {
      throw new GraftException(what + ": external data length " + length + " does not match its shape (" + bytes
          + " bytes)");
    }
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
      if (offset < 0 || offset + length > f.length()) {
        throw new GraftException(what + ": external data [" + offset + ", " + (offset + length) + ") lies outside "
            + file + " (" + f.length() + " bytes)");
      }
      byte[] b = new byte[(int) length];
      f.seek(offset);
      f.readFully(b);
      return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    } catch (IOException e) {
      throw new GraftException(what + ": cannot read external data " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * The external data file {@code location} names, resolved to its real path: it must lie inside the model's
   * folder (also through symbolic links: a link to a file elsewhere is refused) and be a regular file (a FIFO,
   * device or folder is refused before it is opened, so that reading cannot block or stream without end).
   */
  static Path contained(Path baseDir, String location, String what) {
    Path lexical = baseDir.resolve(location).normalize();
    if (!lexical.startsWith(baseDir.normalize())) {
      throw new GraftException(what + ": external data location '" + location + "' leaves the model's folder");
    }
    Path dir;
    Path file;
    try {
      dir = baseDir.toRealPath();
      file = lexical.toRealPath();
    } catch (IOException e) {
      throw new GraftException(what + ": cannot read external data '" + location + "' (" + e + ")", e);
    }
    if (!file.startsWith(dir)) {
      throw new GraftException(what + ": external data location '" + location + "' resolves to " + file
          + ", outside the model's folder " + dir);
    }
    if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
      throw new GraftException(what + ": external data location '" + location + "' is not a regular file ("
          + kind(file) + ")");
    }
    return file;
  }

  private static String kind(Path p) {
    if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
      return "a folder";
    }
    return "a FIFO, device or socket";
  }

  private static long parse(String s, String what) {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      throw new GraftException(what + ": bad external data number '" + s + "'");
    }
  }
}
