package io.graft.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.testing.TensorAssert;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

class SafetensorsTest {
  @TempDir
  Path dir;

  @Test
  void roundTripKeepsOrderDtypesShapesValuesAndMetadata() {
    StateDict sd = new StateDict();
    sd.put("z.weight", Tensor.fromArray(new float[] {1.5f, -2f, 3f, 4f, 5f, 6f}, 2, 3));
    sd.put("a.bias", Tensor.fromArray(new double[] {1e-300, 2}, 2));
    sd.put("bn.num_batches_tracked", Tensor.scalar(DataType.LONG, 7));
    sd.put("ints", Tensor.of(Nd4j.createFromArray(new int[] {-1, 2, 3})));
    sd.put("flags", Tensor.of(Nd4j.createFromArray(new boolean[] {true, false})));
    sd.put("bytes", Tensor.of(Nd4j.createFromArray(new int[] {0, 200, 255}).castTo(DataType.UBYTE)));
    sd.put("empty", Tensor.zeros(0, 3));
    Path p = dir.resolve("m.safetensors");
    Safetensors.write(p, sd, Map.of("format", "pt"));
    Safetensors.File f = Safetensors.open(p);
    assertEquals(List.of("z.weight", "a.bias", "bn.num_batches_tracked", "ints", "flags", "bytes", "empty"),
        f.entries().stream().map(Safetensors.Entry::name).toList());
    assertEquals("pt", f.metadata().get("format"));
    StateDict back = f.tensors();
    for (String k : sd.keys()) {
      assertEquals(sd.get(k).dtype(), back.get(k).dtype(), k);
      assertArrayEquals(sd.get(k).shape(), back.get(k).shape(), k);
      TensorAssert.assertIdentical(back.get(k), sd.get(k), k);
    }
    assertEquals(7, back.get("bn.num_batches_tracked").item());
    assertEquals(0, back.get("bn.num_batches_tracked").rank());
  }

  @Test
  void halfAndBfloat16AreWidenedToFloat32() {
    assertEquals(1.0f, TensorBytes.halfToFloat((short) 0x3C00));
    assertEquals(-2.0f, TensorBytes.halfToFloat((short) 0xC000));
    assertEquals(65504f, TensorBytes.halfToFloat((short) 0x7BFF));
    assertEquals(5.9604645e-8f, TensorBytes.halfToFloat((short) 0x0001));
    for (float v : new float[] {0.1f, -3.75f, 1000f, 6e-5f}) {
      assertEquals(v, TensorBytes.halfToFloat(TensorBytes.floatToHalf(v)), Math.abs(v) * 1e-3);
    }
    ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
    b.putShort((short) 0x3FC0).putShort((short) 0xC040);  // bfloat16 1.5, -3.0
    Tensor t = TensorBytes.decode("BF16", new long[] {2}, b.flip());
    assertEquals(DataType.FLOAT, t.dtype());
    assertArrayEquals(new float[] {1.5f, -3f}, t.toFloatArray());
  }

  @Test
  void writingReplacesAtomicallyAndLeavesNoTemporaryFiles() throws IOException {
    Path p = dir.resolve("w.safetensors");
    StateDict a = new StateDict().put("x", Tensor.ones(3));
    Safetensors.write(p, a, null);
    Safetensors.write(p, new StateDict().put("y", Tensor.zeros(2)), null);
    assertEquals(List.of("y"), Safetensors.open(p).entries().stream().map(Safetensors.Entry::name).toList());
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(1, s.count());
    }
  }

  static byte[] file(String header, int dataBytes) {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    return b.array();
  }

  static void assertRejected(byte[] bytes, String... fragments) {
    GraftException e = assertThrows(GraftException.class, () -> Safetensors.open(bytes, "bad.safetensors").tensors());
    assertTrue(e.getMessage().contains("bad.safetensors"), e.getMessage());
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), e.getMessage());
    }
  }

  @Test
  void hostileAndBrokenFilesGiveClearErrors() {
    byte[] huge = new byte[16];
    ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 60);
    assertRejected(huge, "header length");
    assertRejected(new byte[] {1, 2, 3}, "not a safetensors file");
    assertRejected(file("{not json", 0), "JSON");
    assertRejected(file("[1,2]", 0), "JSON object");
    assertRejected(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4), "'x'", "outside");
    assertRejected(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "'x'", "[3]");
    assertRejected(file("{\"x\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "'Q7'");
    assertRejected(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "tile");
    assertRejected(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8), "cover");
    assertRejected(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4), "shape");
    assertRejected(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
        + "\"data_offsets\":[0,4]}}", 4), "'x'");
    assertRejected(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        + "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "tile");
    assertRejected(file("{\"__metadata__\":{\"a\":1}}", 0), "__metadata__");
  }

  /** The reference implementation refuses a header that is not UTF-8; it was decoded with replacement characters. */
  @Test
  void headerThatIsNotUtf8IsRefused() {
    byte[] ok = file("{\"xy\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    Safetensors.open(ok, "bad.safetensors").tensors();
    byte[] bad = ok.clone();
    bad[8 + 2] = (byte) 0xC3; // the name "xy" becomes a lead byte followed by a byte that cannot continue it
    bad[8 + 3] = (byte) 0x28;
    assertRejected(bad, "not valid UTF-8");
  }

  /** A repeated key (tensor name, or a field inside an entry) is refused by name, as the reference refuses it. */
  @Test
  void duplicateKeysAreRefusedNamingTheKey() {
    assertRejected(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        + "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "repeats a key", "'x'");
    assertRejected(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"shape\":[2],\"data_offsets\":[0,4]}}", 4),
        "repeats a key", "'shape'");
    assertRejected(file("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0), "repeats a key", "'a'");
  }

  /** Rank is bounded before anything is allocated: the header is refused when the file is opened. */
  @Test
  void rankAbove32IsRefusedWhenTheHeaderIsParsed() {
    for (int rank : new int[] {40, 100}) {
      String shape = String.join(",", java.util.Collections.nCopies(rank, "1"));
      byte[] f = file("{\"deep\":{\"dtype\":\"F32\",\"shape\":[" + shape + "],\"data_offsets\":[0,4]}}", 4);
      GraftException e = assertThrows(GraftException.class, () -> Safetensors.open(f, "bad.safetensors"));
      assertTrue(e.getMessage().contains("'deep'") && e.getMessage().contains("exceeds the maximum of 32"),
          e.getMessage());
    }
  }

  /** A header of more tensors than {@link Safetensors#MAX_TENSORS} is refused (it was 1.77 M empty tensors, 60 s). */
  @Test
  void headerWithTooManyTensorsIsRefused() {
    StringBuilder h = new StringBuilder("{");
    for (int i = 0; i <= Safetensors.MAX_TENSORS; i++) {
      h.append(i == 0 ? "" : ",").append("\"t").append(i).append("\":{\"dtype\":\"F32\",\"shape\":[0],"
          + "\"data_offsets\":[0,0]}");
    }
    assertRejected(file(h.append('}').toString(), 0), "more than " + Safetensors.MAX_TENSORS + " tensors");
  }

  /**
   * Tensors over 2 GiB are written in chunks (the writer computed {@code int numel * elementSize}, which overflows at
   * 2^29 float32 elements, after copying the whole tensor; here 2^28 float64). The output is counted, not stored.
   */
  @Test
  void tensorsOver2GiBAreStreamedOut() throws IOException {
    long n = (1L << 28) + 3; // float64: just over 2 GiB of native memory, contents undefined (only counted)
    Tensor big = Tensor.of(Nd4j.createUninitialized(DataType.DOUBLE, n));
    Tensor small = Tensor.fromArray(new float[] {2, 3}, 2);
    java.io.ByteArrayOutputStream head = new java.io.ByteArrayOutputStream();
    long[] count = {0};
    byte[] last = new byte[4];
    java.io.OutputStream out = new java.io.OutputStream() {
      @Override
      public void write(int b) {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) {
        if (count[0] < 4096) {
          head.write(b, off, (int) Math.min(len, 4096 - count[0]));
        }
        count[0] += len;
        if (len >= 4) {
          System.arraycopy(b, off + len - 4, last, 0, 4);
        }
      }
    };
    Safetensors.write(out, new StateDict().put("big", big).put("small", small), null);
    long headerLen = ByteBuffer.wrap(head.toByteArray(), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    String header = new String(head.toByteArray(), 8, (int) headerLen, StandardCharsets.UTF_8);
    assertTrue(header.contains("\"data_offsets\":[0," + 8 * n + "]"), header);
    assertTrue(header.contains("\"data_offsets\":[" + 8 * n + "," + (8 * n + 8) + "]"), header);
    assertEquals(8 + headerLen + 8 * n + 8, count[0]);
    assertEquals(3f, ByteBuffer.wrap(last).order(ByteOrder.LITTLE_ENDIAN).getFloat());
    big.data().close();
  }

  @Test
  void missingFileNamesThePath() {
    GraftException e = assertThrows(GraftException.class, () -> Safetensors.open(dir.resolve("nope.safetensors")));
    assertTrue(e.getMessage().contains("nope.safetensors"), e.getMessage());
  }
}
