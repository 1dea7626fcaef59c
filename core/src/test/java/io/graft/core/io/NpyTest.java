package io.graft.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;

class NpyTest {
  @TempDir
  Path tmp;

  /** A file laid out exactly as numpy 1.24 writes {@code np.save(f, np.arange(6, dtype='<f4').reshape(2, 3))}. */
  static byte[] numpyWritten() {
    String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    String header = dict + " ".repeat(128 - 10 - dict.length() - 1) + "\n";
    ByteBuffer b = ByteBuffer.allocate(128 + 24).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
    b.putShort((short) header.length());
    b.put(header.getBytes(StandardCharsets.ISO_8859_1));
    for (int i = 0; i < 6; i++) {
      b.putFloat(i);
    }
    return b.array();
  }

  @Test
  void readsNumpyLayoutAndRoundTrips() throws Exception {
    Path p = tmp.resolve("a.npy");
    Files.write(p, numpyWritten());
    Tensor t = Npy.read(p);
    assertArrayEquals(new long[] {2, 3}, t.shape());
    assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, t.toFloatArray());
    Path q = tmp.resolve("b.npy");
    Npy.write(q, t);
    assertArrayEquals(numpyWritten(), Files.readAllBytes(q), "byte-identical to numpy's own output");
    for (Tensor x : new Tensor[] {Tensor.fromArray(new long[] {1, -2, 3}, 3), Tensor.scalar(DataType.DOUBLE, 2.5),
        Tensor.zeros(0, 4), Tensor.fromArray(new double[] {1, 2}, 2, 1)}) {
      Npy.write(q, x);
      Tensor y = Npy.read(q);
      assertEquals(x.dtype(), y.dtype());
      assertArrayEquals(x.shape(), y.shape());
      assertArrayEquals(x.toDoubleArray(), y.toDoubleArray());
    }
  }

  /**
   * Version 2.0 (4-byte header length), laid out as numpy 1.24 writes
   * {@code np.lib.format.write_array(f, np.arange(6, dtype='<f8').reshape(3, 2), version=(2, 0))}: 176 bytes,
   * header length 116, data 64-byte aligned.
   */
  @Test
  void readsVersionTwo() throws Exception {
    String dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }";
    String header = dict + " ".repeat(128 - 12 - dict.length() - 1) + "\n";
    ByteBuffer b = ByteBuffer.allocate(128 + 48).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0});
    b.putInt(header.length());
    b.put(header.getBytes(StandardCharsets.ISO_8859_1));
    for (int i = 0; i < 6; i++) {
      b.putDouble(i);
    }
    assertEquals(116, header.length());
    Path p = tmp.resolve("v2.npy");
    Files.write(p, b.array());
    Tensor t = Npy.read(p);
    assertEquals(DataType.DOUBLE, t.dtype());
    assertArrayEquals(new long[] {3, 2}, t.shape());
    assertArrayEquals(new double[] {0, 1, 2, 3, 4, 5}, t.toDoubleArray());
  }

  @Test
  void badFilesAreClearErrors() throws Exception {
    byte[] good = numpyWritten();
    Path p = tmp.resolve("bad.npy");
    Files.write(p, Arrays.copyOf(good, good.length - 4));
    GraftException e = assertThrows(GraftException.class, () -> Npy.read(p));
    assertTrue(e.getMessage().contains("needs 24 bytes"), e.getMessage());
    String s = new String(good, StandardCharsets.ISO_8859_1);
    Files.write(p, s.replace("False", "True ").getBytes(StandardCharsets.ISO_8859_1));
    assertTrue(assertThrows(GraftException.class, () -> Npy.read(p)).getMessage().contains("Fortran"));
    Files.write(p, s.replace("<f4", ">f4").getBytes(StandardCharsets.ISO_8859_1));
    assertTrue(assertThrows(GraftException.class, () -> Npy.read(p)).getMessage().contains("big-endian"));
    Files.write(p, s.replace("(2, 3)", "(9999999999, 99999)").getBytes(StandardCharsets.ISO_8859_1));
    assertThrows(GraftException.class, () -> Npy.read(p));
    Files.write(p, "hello".getBytes(StandardCharsets.US_ASCII));
    assertThrows(GraftException.class, () -> Npy.read(p));
  }
}
