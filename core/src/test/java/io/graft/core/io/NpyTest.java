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

  /** A file with header dict {@code dict} (version 1.0) and {@code data} after it. */
  static byte[] npy(String dict, byte[] data) {
    String header = dict + " ".repeat(Math.max(0, 118 - dict.length() - 1)) + "\n";
    byte[] h = header.getBytes(StandardCharsets.ISO_8859_1);
    ByteBuffer b = ByteBuffer.allocate(10 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) h.length).put(h).put(data);
    return b.array();
  }

  static byte[] floats(float... v) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) {
      b.putFloat(x);
    }
    return b.array();
  }

  Tensor read(byte[] file) throws Exception {
    Path p = tmp.resolve("h.npy");
    Files.write(p, file);
    return Npy.read(p);
  }

  /**
   * The header is the Python literal NumPy evaluates: a repeated key keeps its last value, and a key's name inside
   * another value's string is only text (the regex parser took the first {@code 'descr'} it saw, even inside a
   * string, and the first of two {@code 'shape'}s).
   */
  @Test
  void headerIsParsedAsAPythonLiteralWhereTheLastRepeatedKeyWins() throws Exception {
    Tensor t = read(npy("{'descr': \"'descr': '<i1'\", 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
        floats(1, 2)));
    assertEquals(DataType.FLOAT, t.dtype());
    assertArrayEquals(new float[] {1, 2}, t.toFloatArray());
    Tensor s = read(npy("{'descr': '<f4', 'shape': (3,), 'fortran_order': False, 'shape': (2, 1)}", floats(4, 5)));
    assertArrayEquals(new long[] {2, 1}, s.shape());
    assertArrayEquals(new float[] {4, 5}, s.toFloatArray());
    Tensor py2 = read(npy("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2L,)}", floats(6, 7)));
    assertArrayEquals(new float[] {6, 7}, py2.toFloatArray());
  }

  /** Anything but a dict of str keys to str / bool / tuple of ints, with exactly NumPy's keys, is refused. */
  @Test
  void malformedHeadersAreRefusedWithTheirFault() throws Exception {
    String[][] cases = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", "not a string, True/False or a tuple"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", "not a string, True/False or a tuple"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", "not a string, True/False or a tuple"},
        {"{'descr': '<f4', 'fortran_order': 'no', 'shape': (2,)}", "'fortran_order' must be True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': ('2',)}", "expected an integer"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': True}", "exactly the keys"},
        {"{'descr': '<f4', 'fortran_order': False}", "exactly the keys"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk", "after the header dict"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", "malformed .npy header"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "out of range"},
        {"{1: '<f4'}", "expected a string key"},
    };
    for (String[] c : cases) {
      GraftException e = assertThrows(GraftException.class, () -> read(npy(c[0], floats(1, 2))), c[0]);
      assertTrue(e.getMessage().contains("h.npy") && e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
    }
  }

  /** A shape of rank 40 or 100 is refused while the header is parsed, naming the limit. */
  @Test
  void rankAbove32IsRefused() {
    for (int rank : new int[] {40, 100}) {
      String shape = "(" + "1, ".repeat(rank) + ")";
      GraftException e = assertThrows(GraftException.class,
          () -> read(npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + "}", floats(1))));
      assertTrue(e.getMessage().contains("exceeds the maximum of 32"), e.getMessage());
    }
  }

  /**
   * The data is streamed from the tensor, whatever its layout (a transposed view and a stride-0 broadcast here), with
   * no copy of the whole tensor; tensors over 2 GiB go through the same {@link TensorBytes#write} as safetensors
   * ({@code SafetensorsTest.tensorsOver2GiBAreStreamedOut}).
   */
  @Test
  void dataIsStreamedInCOrderFromAnyLayout() throws Exception {
    Tensor m = Tensor.of(org.nd4j.linalg.factory.Nd4j.createFromArray(new float[][] {{1, 2, 3}, {4, 5, 6}})
        .transpose());
    Tensor b = Tensor.of(org.nd4j.linalg.factory.Nd4j.create(
        org.nd4j.linalg.factory.Nd4j.createBuffer(new float[] {0.25f}), new long[] {3, 4}, new long[] {0, 0}, 0, 'c'));
    for (Tensor t : new Tensor[] {m, b}) {
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      Npy.write(out, t);
      Tensor back = read(out.toByteArray());
      assertArrayEquals(t.shape(), back.shape());
      assertArrayEquals(t.toFloatArray(), back.toFloatArray());
    }
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
