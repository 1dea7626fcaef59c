package io.graft.core.io;

import io.graft.core.GraftException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * NumPy {@code .npy} files, versions 1.0, 2.0 and 3.0: little-endian (or byte-order-free) C-order arrays of
 * float16/32/64, int8/16/32/64, uint8 and bool. Fortran-order and big-endian arrays are refused with a clear
 * message; the header's shape is checked against the file size before anything is allocated. The header is parsed
 * as the Python literal it is ({@link NpyHeader}: strict, a repeated key keeps its last value as in NumPy). Data is
 * decoded from the file's bytes straight into the tensor in chunks; writing is atomic and streams the data in chunks.
 *
 * <p>Memory: reading a file of N bytes costs, beyond the tensor, the header (at most N bytes) and the file's bytes
 * (N: mapped and shared with the page cache from 1 MiB, a heap copy below, see {@link FileBytes}) plus one
 * {@link TensorBytes#CHUNK}: within the readers' rule of max(64 MiB, 4·N). The tensor itself is at most 2·N (float16 widens to float32).
 *
 * @see <a href="https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html">The .npy format</a>
 */
public final class Npy {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  private static final Map<String, String> DESCR = Map.of("f4", "F32", "f8", "F64", "f2", "F16", "i8", "I64", "i4",
      "I32", "i2", "I16", "i1", "I8", "u1", "U8", "b1", "BOOL");

  private Npy() {}

  /**
   * Reads a little-endian, C-order NumPy {@code .npy} file (versions 1 to 3, files under 2 GiB) into a tensor of its
   * dtype and shape; throws {@link GraftException} naming the file if it is missing, truncated, malformed, big-endian,
   * Fortran-order, of an unsupported dtype, or of a shape Graft cannot hold.
   */
  public static Tensor read(Path path) {
    String src = path.toString();
    if (!Files.isRegularFile(path)) {
      throw new GraftException(src + ": no such file");
    }
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < 10) {
        throw new GraftException(src + ": not a .npy file (" + size + " bytes)");
      }
      if (size > Integer.MAX_VALUE) {
        throw new GraftException(src + ": .npy files over 2 GiB are not supported");
      }
      ByteBuffer b = FileBytes.read(ch, 0, size).order(ByteOrder.LITTLE_ENDIAN);
      for (byte m : MAGIC) {
        if (b.get() != m) {
          throw new GraftException(src + ": not a .npy file (bad magic)");
        }
      }
      int major = b.get() & 0xFF;
      b.get();
      if (major >= 2 && size < 12) {
        throw new GraftException(src + ": truncated .npy header (" + size + " bytes)");
      }
      long headerLen = switch (major) {
        case 1 -> b.getShort() & 0xFFFF;
        case 2, 3 -> b.getInt() & 0xFFFFFFFFL;
        default -> throw new GraftException(src + ": unsupported .npy version " + major);
      };
      if (headerLen > size - b.position()) {
        throw new GraftException(src + ": header of " + headerLen + " bytes runs past the end of the file");
      }
      byte[] h = new byte[(int) headerLen];
      b.get(h);
      String header = new String(h, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
      NpyHeader parsed = NpyHeader.parse(header, src);
      String descr = parsed.descr();
      if (descr.length() < 2 || "<>|=".indexOf(descr.charAt(0)) < 0) {
        throw new GraftException(src + ": unsupported dtype '" + descr + "'");
      }
      String dtype = DESCR.get(descr.substring(1));
      if (dtype == null) {
        throw new GraftException(src + ": unsupported dtype '" + descr + "'");
      }
      if (descr.charAt(0) == '>' && !descr.endsWith("1")) {
        throw new GraftException(src + ": big-endian arrays are not supported; save with '<' byte order");
      }
      if (parsed.fortranOrder()) {
        throw new GraftException(src + ": Fortran-order arrays are not supported; save np.ascontiguousarray(x)");
      }
      long[] shape = parsed.shape();
      Shapes.checkNew(src, shape);
      long bytes = Shapes.numel(shape) * TensorBytes.elementSize(dtype);
      if (bytes != b.remaining()) {
        throw new GraftException(src + ": shape " + Shapes.str(shape) + " " + descr + " needs " + bytes
            + " bytes of data, the file has " + b.remaining());
      }
      return TensorBytes.decode(dtype, shape, b.slice().order(ByteOrder.LITTLE_ENDIAN));
    } catch (IOException e) {
      throw new GraftException(src + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** Writes a C-order little-endian {@code .npy} (version 1.0, or 2.0 for huge headers), atomically. */
  public static void write(Path path, Tensor t) {
    byte[] head = header(path.toString(), t);
    AtomicFiles.write(path, out -> {
      out.write(head);
      TensorBytes.write(t.data(), out);
    });
  }

  /**
   * Writes a {@code .npy} to {@code out} (not closed): the header, then the data streamed in chunks of at most
   * {@link TensorBytes#CHUNK} bytes, so tensors of any size (over 2 GiB too) are written without a copy.
   */
  public static void write(OutputStream out, Tensor t) throws IOException {
    out.write(header(".npy output", t));
    TensorBytes.write(t.data(), out);
  }

  /** Magic, version, header length and the padded header dict. */
  private static byte[] header(String target, Tensor t) {
    String descr = switch (TensorBytes.dtypeName(t.dtype())) {
      case "F32" -> "<f4";
      case "F64" -> "<f8";
      case "F16" -> "<f2";
      case "I64" -> "<i8";
      case "I32" -> "<i4";
      case "I16" -> "<i2";
      case "I8" -> "|i1";
      case "U8" -> "|u1";
      case "BOOL" -> "|b1";
      default -> throw new GraftException(target + ": cannot write dtype " + t.dtype() + " to .npy");
    };
    StringBuilder shape = new StringBuilder("(");
    for (long d : t.shape()) {
      shape.append(d).append(", ");
    }
    if (t.rank() > 1) {
      shape.setLength(shape.length() - 2);
    } else if (t.rank() == 1) {
      shape.setLength(shape.length() - 1);
    }
    shape.append(')');
    String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    int pre = 10;
    int total = pre + dict.length() + 1;
    int padded = (total + 63) / 64 * 64;
    boolean v2 = padded - pre > 65535;
    if (v2) {
      pre = 12;
      total = pre + dict.length() + 1;
      padded = (total + 63) / 64 * 64;
    }
    String header = dict + " ".repeat(padded - total) + "\n";
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    out.writeBytes(MAGIC);
    out.write(v2 ? 2 : 1);
    out.write(0);
    if (v2) {
      out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(header.length()).array());
    } else {
      out.writeBytes(ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) header.length()).array());
    }
    out.writeBytes(header.getBytes(StandardCharsets.ISO_8859_1));
    return out.toByteArray();
  }
}
