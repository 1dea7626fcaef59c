package io.graft.core.io;

import io.graft.core.GraftException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * NumPy {@code .npy} files, versions 1.0, 2.0 and 3.0: little-endian (or byte-order-free) C-order arrays of
 * float16/32/64, int8/16/32/64, uint8 and bool. Fortran-order and big-endian arrays are refused with a clear
 * message; the header's shape is checked against the file size before anything is allocated. Writing is atomic.
 *
 * @see <a href="https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html">The .npy format</a>
 */
public final class Npy {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  private static final Map<String, String> DESCR = Map.of("f4", "F32", "f8", "F64", "f2", "F16", "i8", "I64", "i4",
      "I32", "i2", "I16", "i1", "I8", "u1", "U8", "b1", "BOOL");
  private static final Pattern DESCR_RE = Pattern.compile("'descr'\\s*:\\s*'([<>|=])([a-z]\\d+)'");
  private static final Pattern FORTRAN_RE = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
  private static final Pattern SHAPE_RE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

  private Npy() {}

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
      ByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, 0, size).order(ByteOrder.LITTLE_ENDIAN);
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
      Matcher d = DESCR_RE.matcher(header);
      Matcher f = FORTRAN_RE.matcher(header);
      Matcher s = SHAPE_RE.matcher(header);
      if (!d.find() || !f.find() || !s.find()) {
        throw new GraftException(src + ": malformed .npy header: " + header.trim());
      }
      String dtype = DESCR.get(d.group(2));
      if (dtype == null) {
        throw new GraftException(src + ": unsupported dtype '" + d.group(1) + d.group(2) + "'");
      }
      if (d.group(1).equals(">") && !d.group(2).endsWith("1")) {
        throw new GraftException(src + ": big-endian arrays are not supported; save with '<' byte order");
      }
      if (f.group(1).equals("True")) {
        throw new GraftException(src + ": Fortran-order arrays are not supported; save np.ascontiguousarray(x)");
      }
      List<Long> dims = new ArrayList<>();
      for (String part : s.group(1).split(",")) {
        if (!part.isBlank()) {
          try {
            dims.add(Long.parseLong(part.trim()));
          } catch (NumberFormatException e) {
            throw new GraftException(src + ": bad shape in header: (" + s.group(1) + ")");
          }
        }
      }
      long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
      Shapes.checkNew(src, shape);
      long bytes = Shapes.numel(shape) * TensorBytes.elementSize(dtype);
      if (bytes != b.remaining()) {
        throw new GraftException(src + ": shape " + Shapes.str(shape) + " " + d.group(2) + " needs " + bytes
            + " bytes of data, the file has " + b.remaining());
      }
      return TensorBytes.decode(dtype, shape, b.slice().order(ByteOrder.LITTLE_ENDIAN));
    } catch (IOException e) {
      throw new GraftException(src + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** Writes a C-order little-endian {@code .npy} (version 1.0, or 2.0 for huge headers), atomically. */
  public static void write(Path path, Tensor t) {
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
      default -> throw new GraftException(path + ": cannot write dtype " + t.dtype() + " to .npy");
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
    byte[] data = TensorBytes.encode(t.data());
    int hlen = header.length();
    boolean version2 = v2;
    AtomicFiles.write(path, out -> {
      out.write(MAGIC);
      out.write(version2 ? 2 : 1);
      out.write(0);
      if (version2) {
        out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(hlen).array());
      } else {
        out.write(ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) hlen).array());
      }
      out.write(header.getBytes(StandardCharsets.ISO_8859_1));
      out.write(data);
    });
  }
}
