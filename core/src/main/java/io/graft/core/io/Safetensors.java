package io.graft.core.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.graft.core.GraftException;
import io.graft.core.StateDict;
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
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header
 * ({@code name → {dtype, shape, data_offsets}} plus optional string {@code __metadata__}), then the raw
 * little-endian C-order bytes. Reading validates everything against the file size before allocating (the
 * offsets must tile the data section exactly) and maps the file instead of copying it; half and bfloat16
 * tensors are widened to float32. Writing goes to a temporary file that is atomically renamed.
 *
 * @see <a href="https://github.com/huggingface/safetensors">huggingface/safetensors</a>
 */
public final class Safetensors {
  /** Largest header accepted (the reference implementation's limit). */
  static final long MAX_HEADER = 100L << 20;
  private static final ObjectMapper JSON = new ObjectMapper();

  private Safetensors() {}

  /** One tensor's header entry. */
  public record Entry(String name, String dtype, long[] shape, long begin, long end) {}

  /** A parsed file: entries in header order, metadata, and the data section. */
  public static final class File {
    private final String source;
    private final List<Entry> entries;
    private final Map<String, String> metadata;
    private final ByteBuffer data;

    private File(String source, List<Entry> entries, Map<String, String> metadata, ByteBuffer data) {
      this.source = source;
      this.entries = entries;
      this.metadata = metadata;
      this.data = data;
    }

    public List<Entry> entries() {
      return entries;
    }

    public Map<String, String> metadata() {
      return metadata;
    }

    /** Loads one tensor (float16/bfloat16 widened to float32). */
    public Tensor tensor(String name) {
      for (Entry e : entries) {
        if (e.name().equals(name)) {
          return load(e);
        }
      }
      throw new GraftException(source + ": no tensor named '" + name + "'");
    }

    /** Loads every tensor, in header order. */
    public StateDict tensors() {
      StateDict sd = new StateDict();
      for (Entry e : entries) {
        sd.put(e.name(), load(e));
      }
      return sd;
    }

    private Tensor load(Entry e) {
      ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
      b.position(Math.toIntExact(e.begin())).limit(Math.toIntExact(e.end()));
      return TensorBytes.decode(e.dtype(), e.shape(), b.slice().order(ByteOrder.LITTLE_ENDIAN));
    }
  }

  /** Opens and validates a file; tensors are read on demand from a memory map. */
  public static File open(Path path) {
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < 8) {
        throw new GraftException(path + ": not a safetensors file (" + size + " bytes, shorter than the 8-byte header length)");
      }
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, lenBuf, 0);
      long n = lenBuf.getLong(0);
      checkHeaderLength(path.toString(), n, size);
      ByteBuffer header = ByteBuffer.allocate((int) n);
      readFully(ch, header, 8);
      long dataLen = size - 8 - n;
      if (dataLen > Integer.MAX_VALUE) {
        throw new GraftException(path + ": data section of " + dataLen + " bytes exceeds the 2 GiB per-file limit");
      }
      ByteBuffer data = ch.map(FileChannel.MapMode.READ_ONLY, 8 + n, dataLen);
      return parse(path.toString(), header.array(), data);
    } catch (IOException e) {
      throw new GraftException(path + ": cannot read safetensors file: " + e.getMessage(), e);
    }
  }

  /** Parses a safetensors file held in memory ({@code source} names it in errors). */
  public static File open(byte[] bytes, String source) {
    if (bytes.length < 8) {
      throw new GraftException(source + ": not a safetensors file (" + bytes.length + " bytes)");
    }
    long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    checkHeaderLength(source, n, bytes.length);
    byte[] header = new byte[(int) n];
    System.arraycopy(bytes, 8, header, 0, (int) n);
    ByteBuffer data = ByteBuffer.wrap(bytes, 8 + (int) n, bytes.length - 8 - (int) n).slice();
    return parse(source, header, data);
  }

  /** Reads every tensor of a file. */
  public static StateDict read(Path path) {
    return open(path).tensors();
  }

  /** Writes tensors (in iteration order) and optional metadata atomically: temp file, then rename. */
  public static void write(Path path, StateDict tensors, Map<String, String> metadata) {
    ObjectNode header = JSON.createObjectNode();
    if (metadata != null && !metadata.isEmpty()) {
      ObjectNode m = header.putObject("__metadata__");
      metadata.forEach(m::put);
    }
    List<byte[]> blobs = new ArrayList<>();
    long offset = 0;
    for (Map.Entry<String, Tensor> e : tensors) {
      if (e.getKey().equals("__metadata__")) {
        throw new GraftException(path + ": '__metadata__' is reserved and cannot name a tensor");
      }
      Tensor t = e.getValue();
      byte[] raw = TensorBytes.encode(t.data());
      ObjectNode entry = header.putObject(e.getKey());
      entry.put("dtype", TensorBytes.dtypeName(t.dtype()));
      ArrayNode shape = entry.putArray("shape");
      for (long d : t.shape()) {
        shape.add(d);
      }
      entry.putArray("data_offsets").add(offset).add(offset + raw.length);
      offset += raw.length;
      blobs.add(raw);
    }
    byte[] h;
    try {
      h = JSON.writeValueAsBytes(header);
    } catch (JsonProcessingException e) {
      throw new GraftException(path + ": cannot encode header: " + e.getMessage(), e);
    }
    int pad = (8 - h.length % 8) % 8;
    AtomicFiles.write(path, out -> {
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length + pad);
      out.write(len.array());
      out.write(h);
      for (int i = 0; i < pad; i++) {
        out.write(' ');
      }
      if (CrashPoint.armed()) {
        out.flush();
        CrashPoint.reach("safetensors.mid-write");
      }
      for (byte[] b : blobs) {
        out.write(b);
      }
    });
  }

  private static void checkHeaderLength(String source, long n, long fileSize) {
    if (n <= 1 || n > MAX_HEADER || n > fileSize - 8) {
      throw new GraftException(source + ": invalid safetensors header length " + n + " for a file of " + fileSize
          + " bytes (must be between 2 and min(" + MAX_HEADER + ", file size - 8))");
    }
  }

  private static File parse(String source, byte[] headerBytes, ByteBuffer data) {
    JsonNode root;
    try {
      root = JSON.readTree(new String(headerBytes, StandardCharsets.UTF_8).trim());
    } catch (IOException e) {
      throw new GraftException(source + ": safetensors header is not valid JSON: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new GraftException(source + ": safetensors header must be a JSON object");
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    List<Entry> entries = new ArrayList<>();
    long dataLen = data.remaining();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> f = it.next();
      String name = f.getKey();
      JsonNode v = f.getValue();
      if (name.equals("__metadata__")) {
        if (!v.isObject()) {
          throw new GraftException(source + ": __metadata__ must be an object of strings");
        }
        v.fields().forEachRemaining(m -> {
          if (!m.getValue().isTextual()) {
            throw new GraftException(source + ": __metadata__ value '" + m.getKey() + "' is not a string");
          }
          metadata.put(m.getKey(), m.getValue().asText());
        });
        continue;
      }
      entries.add(entry(source, name, v, dataLen));
    }
    List<Entry> sorted = new ArrayList<>(entries);
    sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
    long expect = 0;
    for (Entry e : sorted) {
      if (e.begin() != expect) {
        throw new GraftException(source + ": tensor '" + e.name() + "' starts at byte " + e.begin() + " but the "
            + "previous tensor ends at " + expect + " (data_offsets must tile the data section exactly)");
      }
      expect = e.end();
    }
    if (expect != dataLen) {
      throw new GraftException(source + ": tensors cover " + expect + " bytes but the data section has " + dataLen);
    }
    return new File(source, Collections.unmodifiableList(entries), Collections.unmodifiableMap(metadata), data);
  }

  private static Entry entry(String source, String name, JsonNode v, long dataLen) {
    String where = source + ": tensor '" + name + "'";
    if (!v.isObject() || !v.path("dtype").isTextual() || !v.path("shape").isArray()
        || !v.path("data_offsets").isArray() || v.path("data_offsets").size() != 2) {
      throw new GraftException(where + ": header entry needs dtype (string), shape (array) and data_offsets [begin, end]");
    }
    String dtype = v.get("dtype").asText();
    int elem = TensorBytes.elementSize(dtype);
    if (elem < 0) {
      throw new GraftException(where + ": unsupported dtype '" + dtype + "'");
    }
    JsonNode s = v.get("shape");
    long[] shape = new long[s.size()];
    long numel = 1;
    for (int i = 0; i < shape.length; i++) {
      JsonNode d = s.get(i);
      if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
        throw new GraftException(where + ": invalid shape " + s);
      }
      shape[i] = d.asLong();
      if (shape[i] != 0 && numel > Long.MAX_VALUE / shape[i]) {
        throw new GraftException(where + ": shape " + s + " overflows");
      }
      numel *= shape[i];
    }
    JsonNode o = v.get("data_offsets");
    if (!o.get(0).isIntegralNumber() || !o.get(1).isIntegralNumber() || !o.get(0).canConvertToLong()
        || !o.get(1).canConvertToLong()) {
      throw new GraftException(where + ": data_offsets must be integers, got " + o);
    }
    long begin = o.get(0).asLong();
    long end = o.get(1).asLong();
    if (begin < 0 || end < begin || end > dataLen) {
      throw new GraftException(where + ": data_offsets " + o + " outside the data section of " + dataLen + " bytes");
    }
    if (numel > (Long.MAX_VALUE / Math.max(elem, 1)) || numel * elem != end - begin) {
      throw new GraftException(where + ": shape " + s + " of " + dtype + " needs " + numel + " x " + elem
          + " bytes but data_offsets " + o + " give " + (end - begin));
    }
    return new Entry(name, dtype, shape, begin, end);
  }

  private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
    while (b.hasRemaining()) {
      int r = ch.read(b, pos + b.position());
      if (r < 0) {
        throw new IOException("unexpected end of file");
      }
    }
  }

  /** Used by writers that stream into a temporary file. */
  @FunctionalInterface
  public interface Body {
    void writeTo(OutputStream out) throws IOException;
  }
}
