package io.graft.core.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.graft.core.GraftException;
import io.graft.core.Shapes;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header
 * ({@code name → {dtype, shape, data_offsets}} plus optional string {@code __metadata__}), then the raw
 * little-endian C-order bytes. Reading validates everything against the file size before allocating (the
 * offsets must tile the data section exactly) and maps a data section of 1 MiB or more instead of copying it
 * ({@link FileBytes}); half and bfloat16
 * tensors are widened to float32. Writing streams each tensor in bounded chunks to a temporary file that is
 * atomically renamed ({@link AtomicFiles}).
 *
 * <p>The header is refused, as the reference implementation refuses it, when it is not valid UTF-8, when any JSON
 * object in it repeats a key (the key is named), when it is longer than {@link #MAX_HEADER} bytes or when it lists
 * more than {@link #MAX_TENSORS} tensors. It is parsed as a token stream straight into entries (no JSON tree), and a
 * shape of more than {@link io.graft.core.Shapes#MAX_RANK} dimensions is refused as soon as it is seen.
 *
 * <p>Memory: reading a file of N bytes costs, beyond the tensors it holds, the header (at most N bytes, on the heap),
 * the mapped file pages (N, shared with the page cache) and one {@link TensorBytes#CHUNK}: within the readers' rule
 * of max(64 MiB, 4·N). The tensors themselves are at most 2·N (float16/bfloat16 widen to float32).
 *
 * @see <a href="https://github.com/huggingface/safetensors">huggingface/safetensors</a>
 */
public final class Safetensors {
  /** Largest header accepted, in bytes (the reference implementation's limit). */
  public static final long MAX_HEADER = 100L << 20;
  /**
   * Most tensors one file may list. Large checkpoints hold a few thousand per file (a 70B-parameter model in shards
   * of a few hundred each); each entry becomes an array object with native shape buffers even when empty, so a
   * header of millions of empty tensors would cost gigabytes and minutes.
   */
  public static final int MAX_TENSORS = 65_536;
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final JsonFactory STRICT = JsonFactory.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

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

    /** The tensors' header entries in file order (name, dtype, shape, byte range), already validated. */
    public List<Entry> entries() {
      return entries;
    }

    /** The header's {@code __metadata__} string map (empty if absent). */
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

  /** Opens and validates a file; tensors are read on demand from the data section ({@link FileBytes}). */
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
      ByteBuffer data = FileBytes.read(ch, 8 + n, dataLen);
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
    byte[] head = header(path.toString(), tensors, metadata);
    AtomicFiles.write(path, out -> writeBody(head, tensors, out));
  }

  /**
   * Writes a safetensors file to {@code out} (not closed): the header, then each tensor's bytes streamed in chunks
   * of at most {@link TensorBytes#CHUNK} bytes, so tensors of any size (over 2 GiB too) are written without a copy.
   */
  public static void write(OutputStream out, StateDict tensors, Map<String, String> metadata) throws IOException {
    writeBody(header("safetensors output", tensors, metadata), tensors, out);
  }

  private static void writeBody(byte[] head, StateDict tensors, OutputStream out) throws IOException {
    out.write(head);
    if (CrashPoint.armed()) { // the crash test stops a child here, with the header on disk and no data
      out.flush();
      CrashPoint.reach("safetensors.mid-write");
    }
    for (Map.Entry<String, Tensor> e : tensors) {
      TensorBytes.write(e.getValue().data(), out);
    }
  }

  /** The 8-byte length, the JSON header and its space padding to a multiple of 8. */
  private static byte[] header(String target, StateDict tensors, Map<String, String> metadata) {
    ObjectNode header = JSON.createObjectNode();
    if (metadata != null && !metadata.isEmpty()) {
      ObjectNode m = header.putObject("__metadata__");
      metadata.forEach(m::put);
    }
    long offset = 0;
    for (Map.Entry<String, Tensor> e : tensors) {
      if (e.getKey().equals("__metadata__")) {
        throw new GraftException(target + ": '__metadata__' is reserved and cannot name a tensor");
      }
      Tensor t = e.getValue();
      long size = TensorBytes.byteSize(t.data());
      ObjectNode entry = header.putObject(e.getKey());
      entry.put("dtype", TensorBytes.dtypeName(t.dtype()));
      ArrayNode shape = entry.putArray("shape");
      for (long d : t.shape()) {
        shape.add(d);
      }
      entry.putArray("data_offsets").add(offset).add(offset + size);
      offset += size;
    }
    byte[] h;
    try {
      h = JSON.writeValueAsBytes(header);
    } catch (JsonProcessingException e) {
      throw new GraftException(target + ": cannot encode header: " + e.getMessage(), e);
    }
    int pad = (8 - h.length % 8) % 8;
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + pad).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length + pad).put(h);
    while (b.hasRemaining()) {
      b.put((byte) ' ');
    }
    return b.array();
  }

  private static void checkHeaderLength(String source, long n, long fileSize) {
    if (n <= 1 || n > MAX_HEADER || n > fileSize - 8) {
      throw new GraftException(source + ": invalid safetensors header length " + n + " for a file of " + fileSize
          + " bytes (must be between 2 and min(" + MAX_HEADER + ", file size - 8))");
    }
  }

  private static File parse(String source, byte[] headerBytes, ByteBuffer data) {
    checkUtf8(source, headerBytes);
    // the header may be padded with spaces (or other control bytes, as some writers do) on either side
    int from = 0;
    int to = headerBytes.length;
    while (from < to && (headerBytes[from] & 0xFF) <= ' ') {
      from++;
    }
    while (to > from && (headerBytes[to - 1] & 0xFF) <= ' ') {
      to--;
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    List<Entry> entries = new ArrayList<>();
    long dataLen = data.remaining();
    try (JsonParser p = STRICT.createParser(headerBytes, from, to - from)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new GraftException(source + ": safetensors header must be a JSON object");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        p.nextToken();
        if (name.equals("__metadata__")) {
          metadata(source, p, metadata);
          continue;
        }
        if (entries.size() == MAX_TENSORS) {
          throw new GraftException(source + ": safetensors header lists more than " + MAX_TENSORS + " tensors");
        }
        entries.add(entry(source, name, p, dataLen));
      }
      if (p.nextToken() != null) {
        throw new GraftException(source + ": safetensors header has content after its JSON object");
      }
    } catch (StreamReadException e) {
      String dup = e.getOriginalMessage();
      if (dup != null && dup.startsWith("Duplicate field")) {
        throw new GraftException(source + ": safetensors header repeats a key: " + dup, e);
      }
      throw new GraftException(source + ": safetensors header is not valid JSON: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new GraftException(source + ": safetensors header is not valid JSON: " + e.getMessage(), e);
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

  /** Refuses a header that is not valid UTF-8 (decoded in bounded pieces, nothing kept). */
  private static void checkUtf8(String source, byte[] header) {
    CharsetDecoder d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(header);
    CharBuffer out = CharBuffer.allocate(1 << 14);
    while (true) {
      CoderResult r = d.decode(in, out, true);
      if (r.isError()) {
        throw new GraftException(source + ": safetensors header is not valid UTF-8 (at byte " + (8 + in.position())
            + " of the file)");
      }
      out.clear();
      if (r.isUnderflow()) {
        break;
      }
    }
    CoderResult r = d.flush(out);
    if (r.isError()) {
      throw new GraftException(source + ": safetensors header is not valid UTF-8 (at its end)");
    }
  }

  private static void metadata(String source, JsonParser p, Map<String, String> metadata) throws IOException {
    if (p.currentToken() != JsonToken.START_OBJECT) {
      throw new GraftException(source + ": __metadata__ must be an object of strings");
    }
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String key = p.currentName();
      if (p.nextToken() != JsonToken.VALUE_STRING) {
        throw new GraftException(source + ": __metadata__ value '" + key + "' is not a string");
      }
      metadata.put(key, p.getText());
    }
  }

  private static Entry entry(String source, String name, JsonParser p, long dataLen) throws IOException {
    String where = source + ": tensor '" + name + "'";
    String need = ": header entry needs dtype (string), shape (array) and data_offsets [begin, end]";
    if (p.currentToken() != JsonToken.START_OBJECT) {
      throw new GraftException(where + need);
    }
    String dtype = null;
    long[] shape = null;
    long[] offsets = null;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String field = p.currentName();
      JsonToken t = p.nextToken();
      switch (field) {
        case "dtype" -> {
          if (t != JsonToken.VALUE_STRING) {
            throw new GraftException(where + need);
          }
          dtype = p.getText();
        }
        case "shape" -> shape = longs(where, "shape", p, Shapes.MAX_RANK);
        case "data_offsets" -> {
          offsets = longs(where, "data_offsets", p, 2);
          if (offsets.length != 2) {
            throw new GraftException(where + need);
          }
        }
        default -> p.skipChildren(); // unknown fields are ignored, as before
      }
    }
    if (dtype == null || shape == null || offsets == null) {
      throw new GraftException(where + need);
    }
    int elem = TensorBytes.elementSize(dtype);
    if (elem < 0) {
      throw new GraftException(where + ": unsupported dtype '" + dtype + "'");
    }
    String s = java.util.Arrays.toString(shape);
    long numel = 1;
    for (long d : shape) {
      if (d != 0 && numel > Long.MAX_VALUE / d) {
        throw new GraftException(where + ": shape " + s + " overflows");
      }
      numel *= d;
    }
    long begin = offsets[0];
    long end = offsets[1];
    String o = "[" + begin + ", " + end + "]";
    if (end < begin || end > dataLen) {
      throw new GraftException(where + ": data_offsets " + o + " outside the data section of " + dataLen + " bytes");
    }
    if (numel > (Long.MAX_VALUE / Math.max(elem, 1)) || numel * elem != end - begin) {
      throw new GraftException(where + ": shape " + s + " of " + dtype + " needs " + numel + " x " + elem
          + " bytes but data_offsets " + o + " give " + (end - begin));
    }
    return new Entry(name, dtype, shape, begin, end);
  }

  /**
   * A JSON array of non-negative integers that fit a long, at most {@code max} of them: a longer shape is refused as
   * soon as its limit is passed ({@link Shapes#checkRank}), before anything is allocated for it.
   */
  private static long[] longs(String where, String what, JsonParser p, int max) throws IOException {
    if (p.currentToken() != JsonToken.START_ARRAY) {
      throw new GraftException(where + ": " + what + " must be an array of integers");
    }
    long[] out = new long[max + 1];
    int n = 0;
    while (p.nextToken() != JsonToken.END_ARRAY) {
      if (p.currentToken() != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER
          || p.getLongValue() < 0) {
        throw new GraftException(where + ": invalid " + what + " (" + p.getText() + " is not a non-negative "
            + "integer)");
      }
      if (n == max) {
        if (what.equals("shape")) {
          Shapes.checkRank(where, new long[max + 1]);
        }
        throw new GraftException(where + ": " + what + " has more than " + max + " values");
      }
      out[n++] = p.getLongValue();
    }
    return java.util.Arrays.copyOf(out, n);
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
    /**
     * Writes the whole content to {@code out}; an {@code IOException} aborts the write and leaves the target untouched.
     */
    void writeTo(OutputStream out) throws IOException;
  }
}
