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

  @Test
  void missingFileNamesThePath() {
    GraftException e = assertThrows(GraftException.class, () -> Safetensors.open(dir.resolve("nope.safetensors")));
    assertTrue(e.getMessage().contains("nope.safetensors"), e.getMessage());
  }
}
