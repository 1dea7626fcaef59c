package io.graft.core.io;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.graft.core.GraftException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Coverage-guided fuzzing (Jazzer) of the safetensors reader, seeded with real files
 * ({@code src/test/resources/io/graft/core/io/SafetensorsFuzzTestInputs/fuzz/}). Every input must end in a result or
 * a {@link GraftException}; any other exception, a JVM crash or an unjustified allocation is a finding. The suite
 * fuzzes for {@code maxDuration} (surefire's {@code fuzz} execution sets {@code JAZZER_FUZZ=1}); see
 * docs/reliability.md for longer runs.
 *
 * <p>{@link #fuzz} mutates bytes and also builds headers from the fuzzer's choices (ranks 0 to 100,
 * every dtype and unknown ones, repeated keys in any object, bytes that are not UTF-8, consistent or wrong offsets
 * and header lengths), reaching the checks behind the JSON syntax that byte mutation rarely gets past.
 */
class SafetensorsFuzzTest {
  private static final String[] DTYPES = {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL", "Q4",
      ""};
  private static final String[] NAMES = {"a", "b", "w.weight", "__metadata__", "é", ""};

  /**
   * The input's last byte picks the mode (Jazzer runs one fuzz test per class): odd, the rest of the input is the
   * file (the seeds end in 0x01); even, the input drives {@link #file}.
   */
  @FuzzTest(maxExecutions = 300_000, maxDuration = "60s")
  void fuzz(FuzzedDataProvider d) {
    read(d.consumeBoolean() ? d.consumeRemainingAsBytes() : file(d));
  }

  private static void read(byte[] data) {
    try {
      Safetensors.File f = Safetensors.open(data, "fuzz.safetensors");
      for (Safetensors.Entry e : f.entries()) {
        f.tensor(e.name()).numel();
      }
      f.metadata();
    } catch (GraftException refused) {
      // a clear refusal is the right outcome for a broken file
    }
  }

  /** A safetensors file built from the fuzzer's choices. */
  static byte[] file(FuzzedDataProvider d) {
    ByteArrayOutputStream h = new ByteArrayOutputStream();
    h.writeBytes("{".getBytes(StandardCharsets.UTF_8));
    int entries = d.consumeInt(0, 5);
    long offset = 0;
    for (int i = 0; i < entries; i++) {
      if (i > 0) {
        h.write(',');
      }
      key(d, h, d.pickValue(NAMES) + (d.consumeBoolean() ? "" : String.valueOf(i)));
      if (d.consumeInt(0, 9) == 0) {
        h.writeBytes("{\"k\":\"v\"".getBytes(StandardCharsets.UTF_8));
        if (d.consumeBoolean()) {
          h.writeBytes(",\"k\":\"w\"".getBytes(StandardCharsets.UTF_8));
        }
        h.write('}');
        continue;
      }
      String dtype = d.pickValue(DTYPES);
      int rank = d.consumeBoolean() ? d.consumeInt(0, 4) : d.consumeInt(0, 100);
      StringBuilder shape = new StringBuilder("[");
      long numel = 1;
      for (int r = 0; r < rank; r++) {
        long dim = d.consumeBoolean() ? d.consumeInt(0, 4) : d.consumeLong(-2, Long.MAX_VALUE);
        shape.append(r == 0 ? "" : ",").append(dim);
        numel = dim >= 0 && numel < (1L << 40) ? numel * Math.min(dim, 1L << 20) : numel;
      }
      shape.append(']');
      int es = Math.max(TensorBytes.elementSize(dtype), 1);
      long end = d.consumeBoolean() ? offset + numel * es : d.consumeLong(-1, 1L << 20);
      long begin = d.consumeBoolean() ? offset : d.consumeLong(-1, 1L << 20);
      StringBuilder entry = new StringBuilder("{");
      entry.append("\"dtype\":\"").append(dtype).append("\",\"shape\":").append(shape).append(",\"data_offsets\":[")
          .append(begin).append(',').append(end).append(']');
      if (d.consumeInt(0, 9) == 0) {
        entry.append(",\"dtype\":\"").append(d.pickValue(DTYPES)).append('"'); // a repeated field
      }
      h.writeBytes(entry.append('}').toString().getBytes(StandardCharsets.UTF_8));
      offset = Math.max(offset, end);
    }
    h.write('}');
    byte[] header = h.toByteArray();
    if (header.length > 2 && d.consumeInt(0, 7) == 0) {
      header[d.consumeInt(1, header.length - 2)] = (byte) d.pickValue(new int[] {0x80, 0xC3, 0xFF, 0xED, '"'});
    }
    int pad = d.consumeInt(0, 8);
    long declared = d.consumeInt(0, 15) == 0 ? d.consumeLong(-1, 1L << 40) : header.length + pad;
    byte[] data = d.consumeBytes((int) Math.max(0, Math.min(Math.max(offset, 0) + d.consumeInt(-2, 2), 1 << 16)));
    ByteBuffer b = ByteBuffer.allocate(8 + header.length + pad + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(declared).put(header);
    for (int i = 0; i < pad; i++) {
      b.put((byte) ' ');
    }
    return b.put(data).array();
  }

  private static void key(FuzzedDataProvider d, ByteArrayOutputStream h, String name) {
    h.write('"');
    h.writeBytes(name.getBytes(StandardCharsets.UTF_8));
    h.writeBytes("\":".getBytes(StandardCharsets.UTF_8));
  }
}
