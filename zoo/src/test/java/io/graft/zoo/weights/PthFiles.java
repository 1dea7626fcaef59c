package io.graft.zoo.weights;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Builds {@code torch.save}-shaped files in Java, for tests and the fuzz target's structure-aware generator: a
 * protocol-2 pickle of an {@code OrderedDict} of {@code _rebuild_tensor_v2(storage, offset, size, stride, ...)}
 * views whose storages are persistent ids, written either as a zip archive (each entry stored or deflated, its
 * declared size optionally a lie) or in the legacy format.
 */
public final class PthFiles {
  /** A storage: its key, torch type name ({@code FloatStorage}, ...), declared element count and bytes. */
  public record Storage(String key, String type, long numel, byte[] bytes) {}

  /** A tensor entry: a view over a storage. */
  record View(String name, Storage storage, long offset, long[] size, long[] stride) {}

  private final List<View> views = new ArrayList<>();
  private final Map<String, Storage> storages = new LinkedHashMap<>();

  public PthFiles add(String name, Storage s, long offset, long[] size, long[] stride) {
    views.add(new View(name, s, offset, size, stride));
    storages.putIfAbsent(s.key(), s);
    return this;
  }

  /** A float32 storage holding {@code values}. */
  public static Storage floats(String key, float... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    return new Storage(key, "FloatStorage", values.length, b.array());
  }

  /** A float32 storage of {@code numel} zeros, written in chunks (never held as one array). */
  public static Storage zeros(String key, long numel) {
    return new Storage(key, "FloatStorage", numel, null);
  }

  /** C-order strides of a size. */
  static long[] contiguous(long... size) {
    long[] stride = new long[size.length];
    long s = 1;
    for (int i = size.length - 1; i >= 0; i--) {
      stride[i] = s;
      s *= Math.max(size[i], 1);
    }
    return stride;
  }

  /** The data pickle; {@code legacy} persistent ids carry the sixth (view) field. */
  byte[] pickle(boolean legacy) {
    Pickle p = new Pickle();
    p.global("collections", "OrderedDict").op(')').op('R');
    for (View v : views) {
      p.str(v.name());
      p.global("torch._utils", "_rebuild_tensor_v2").op('(');
      p.op('(').str("storage").global("torch", v.storage().type()).str(v.storage().key()).str("cpu")
          .integer(v.storage().numel());
      if (legacy) {
        p.op('N');
      }
      p.op('t').op('Q');
      p.integer(v.offset()).ints(v.size()).ints(v.stride()).op(0x89);
      p.global("collections", "OrderedDict").op(')').op('R');
      p.op('t').op('R');
      p.op('s');
    }
    return p.op('.').bytes();
  }

  /** A zip-format file; {@code deflate} compresses every entry, {@code declaredSizes} overrides storages' sizes. */
  public byte[] zip(boolean deflate, Map<String, Long> declaredSizes) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(out)) {
      put(z, "archive/data.pkl", pickle(false), deflate);
      put(z, "archive/byteorder", "little".getBytes(StandardCharsets.US_ASCII), deflate);
      for (Storage s : storages.values()) {
        if (s.bytes() == null) {
          putZeros(z, "archive/data/" + s.key(), s.numel() * 4, deflate);
        } else {
          put(z, "archive/data/" + s.key(), s.bytes(), deflate);
        }
      }
      put(z, "archive/version", "3\n".getBytes(StandardCharsets.US_ASCII), deflate);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    byte[] zip = out.toByteArray();
    if (declaredSizes != null) {
      declaredSizes.forEach((key, size) -> {
        if (storages.containsKey(key)) { // a storage no view uses is not written
          lie(zip, "archive/data/" + key, size);
        }
      });
    }
    return zip;
  }

  public byte[] zip() {
    return zip(false, null);
  }

  /** A legacy-format file: magic, protocol, sys info, data pickle, key list, then each storage's count and bytes. */
  byte[] legacy() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(new Pickle().bigInteger(new java.math.BigInteger("1950a86a20f9469cfc6c", 16)).op('.').bytes());
    out.writeBytes(new Pickle().integer(1001).op('.').bytes());
    out.writeBytes(new Pickle().op('}').op('.').bytes());
    out.writeBytes(pickle(true));
    Pickle keys = new Pickle().op(']').op('(');
    for (Storage s : storages.values()) {
      keys.str(s.key());
    }
    out.writeBytes(keys.op('e').op('.').bytes());
    for (Storage s : storages.values()) {
      out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(s.numel()).array());
      out.writeBytes(s.bytes());
    }
    return out.toByteArray();
  }

  private static void put(ZipOutputStream z, String name, byte[] data, boolean deflate) throws IOException {
    ZipEntry e = new ZipEntry(name);
    if (!deflate) {
      e.setMethod(ZipEntry.STORED);
      e.setSize(data.length);
      e.setCompressedSize(data.length);
      CRC32 crc = new CRC32();
      crc.update(data);
      e.setCrc(crc.getValue());
    }
    z.putNextEntry(e);
    z.write(data);
    z.closeEntry();
  }

  private static void putZeros(ZipOutputStream z, String name, long size, boolean deflate) throws IOException {
    byte[] chunk = new byte[1 << 20];
    ZipEntry e = new ZipEntry(name);
    if (!deflate) {
      CRC32 crc = new CRC32();
      for (long left = size; left > 0; left -= chunk.length) {
        crc.update(chunk, 0, (int) Math.min(left, chunk.length));
      }
      e.setMethod(ZipEntry.STORED);
      e.setSize(size);
      e.setCompressedSize(size);
      e.setCrc(crc.getValue());
    }
    z.putNextEntry(e);
    for (long left = size; left > 0; left -= chunk.length) {
      z.write(chunk, 0, (int) Math.min(left, chunk.length));
    }
    z.closeEntry();
  }

  /** Rewrites the uncompressed size that the central directory declares for {@code name}. */
  static void lie(byte[] zip, String name, long size) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.wrap(zip).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i + 46 + n.length <= zip.length; i++) {
      if (b.getInt(i) == 0x02014b50 && b.getShort(i + 28) == n.length
          && java.util.Arrays.equals(zip, i + 46, i + 46 + n.length, n, 0, n.length)) {
        b.putInt(i + 24, (int) size);
        return;
      }
    }
    throw new IllegalArgumentException("no central directory entry " + name);
  }

  /** Just enough of pickle protocol 2 to write what torch.save writes. */
  static final class Pickle {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Pickle() {
      out.write(0x80);
      out.write(2);
    }

    Pickle op(int code) {
      out.write(code);
      return this;
    }

    Pickle global(String module, String name) {
      out.write('c');
      out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
      return this;
    }

    Pickle str(String s) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      out.write('X');
      out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length).array());
      out.writeBytes(b);
      return this;
    }

    Pickle integer(long v) {
      if (v == (int) v) {
        out.write('J');
        out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array());
      } else {
        out.write(0x8a);
        out.write(8);
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
      }
      return this;
    }

    Pickle bigInteger(java.math.BigInteger v) {
      byte[] be = v.toByteArray();
      out.write(0x8a);
      out.write(be.length);
      for (int i = be.length - 1; i >= 0; i--) {
        out.write(be[i]);
      }
      return this;
    }

    Pickle ints(long[] values) {
      op('(');
      for (long v : values) {
        integer(v);
      }
      return op('t');
    }

    byte[] bytes() {
      return out.toByteArray();
    }
  }
}
