package io.graft.core.io;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.graft.core.GraftException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Coverage-guided fuzzing of the {@code .npy} reader (see {@link SafetensorsFuzzTest}): {@link #fuzz} mutates bytes and
 * also builds header dicts from the fuzzer's choices (repeated, missing and extra keys, strings
 * with quotes and escapes, booleans, tuples of rank 0 to 100 with negative, huge and Python 2 long entries, lists,
 * versions 1 to 3, consistent or wrong header lengths) over data of a chosen size.
 */
class NpyFuzzTest {
  private static final String[] KEYS = {"descr", "fortran_order", "shape", "x", "descr", "shape"};
  private static final String[] DESCRS = {"<f4", "<f8", "<f2", "<i8", "<i4", "<i2", "|i1", "|u1", "|b1", ">f4", ">i1",
      "=f4", "<c8", "f4", "<f4'", "descr", ""};

  /** As {@link SafetensorsFuzzTest#fuzz}: the last byte picks raw bytes (odd; seeds end in 0x01) or {@link #file}. */
  @FuzzTest(maxExecutions = 50_000, maxDuration = "45s")
  void fuzz(FuzzedDataProvider d) throws IOException {
    read(d.consumeBoolean() ? d.consumeRemainingAsBytes() : file(d));
  }

  private static void read(byte[] data) throws IOException {
    Path p = Files.createTempFile("fuzz", ".npy");
    try {
      Files.write(p, data);
      Npy.read(p).numel();
    } catch (GraftException refused) {
      // refused with a message
    } finally {
      Files.deleteIfExists(p);
    }
  }

  /** A {@code .npy} file built from the fuzzer's choices. */
  static byte[] file(FuzzedDataProvider d) {
    StringBuilder dict = new StringBuilder("{");
    int keys = d.consumeInt(0, 5);
    for (int i = 0; i < keys; i++) {
      String key = d.pickValue(KEYS);
      char q = d.consumeBoolean() ? '\'' : '"';
      dict.append(q).append(key).append(q).append(": ");
      switch (d.consumeInt(0, 5)) {
        case 0 -> dict.append('\'').append(d.pickValue(DESCRS)).append('\'');
        case 1 -> dict.append(d.consumeBoolean() ? "True" : "False");
        case 2, 3 -> {
          int rank = d.consumeBoolean() ? d.consumeInt(0, 4) : d.consumeInt(0, 100);
          dict.append('(');
          for (int r = 0; r < rank; r++) {
            long v = d.consumeBoolean() ? d.consumeInt(0, 4) : d.consumeLong();
            dict.append(v).append(d.consumeInt(0, 15) == 0 ? "L" : "").append(r + 1 < rank || rank == 1 ? ", " : "");
          }
          dict.append(')');
        }
        case 4 -> dict.append("[").append(d.consumeInt(0, 4)).append("]");
        default -> dict.append(d.consumeAsciiString(12));
      }
      dict.append(i + 1 < keys || d.consumeBoolean() ? ", " : "");
    }
    dict.append(d.consumeBoolean() ? "}" : d.consumeAsciiString(4));
    int version = d.consumeInt(1, 3);
    int pre = version == 1 ? 10 : 12;
    String header = dict + " ".repeat(d.consumeInt(0, 16)) + "\n";
    byte[] h = header.getBytes(version == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
    long declared = d.consumeInt(0, 15) == 0 ? d.consumeLong(0, 0xFFFFFFFFL) : h.length;
    byte[] data = d.consumeBytes(d.consumeInt(0, 512));
    ByteBuffer b = ByteBuffer.allocate(pre + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) version, 0});
    if (version == 1) {
      b.putShort((short) declared);
    } else {
      b.putInt((int) declared);
    }
    return b.put(h).put(data).array();
  }
}
