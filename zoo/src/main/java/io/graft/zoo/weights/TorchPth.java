package io.graft.zoo.weights;

import io.graft.core.GraftException;
import io.graft.core.Shapes;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.TensorBytes;
import io.graft.zoo.weights.Unpickler.Global;
import io.graft.zoo.weights.Unpickler.Tuple;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Reads {@code torch.save} state dicts, zip format (PyTorch ≥ 1.6) and legacy format, in pure Java.
 *
 * <ul>
 *   <li>The pickle is read by a restricted {@link Unpickler}: only {@code collections.OrderedDict}, the
 *       {@code torch._utils._rebuild_*} tensor builders, {@code torch.Size} and the typed storage classes are
 *       allowed; any other global (e.g. {@code os.system}) is refused before anything is built.
 *   <li>Tensors are {@code _rebuild_tensor_v2(storage, offset, size, stride, ...)} over storages that may be
 *       shared and viewed non-contiguously (transposed, channels_last, stride 0); every view is checked against
 *       its storage's size and copied out contiguous.
 *   <li>Zip: the data pickle is {@code <stem>/data.pkl} (any top folder), storages {@code <stem>/data/<key>}
 *       (read with {@link ZipFile}; entries are stored uncompressed). Legacy: magic number, protocol, sys info,
 *       the data pickle, the storage key list, then each storage as an 8-byte element count and its bytes.
 *   <li>{@code {"state_dict": ...}} and {@code {"model": ...}} wrappers are unwrapped, a {@code module.} prefix
 *       (DataParallel) is stripped; non-tensor entries are ignored.
 * </ul>
 *
 * Declared sizes are checked against the file before anything large is allocated.
 */
public final class TorchPth {
  private static final Map<String, String> STORAGES = Map.of("FloatStorage", "F32", "DoubleStorage", "F64",
      "HalfStorage", "F16", "BFloat16Storage", "BF16", "LongStorage", "I64", "IntStorage", "I32", "ShortStorage",
      "I16", "CharStorage", "I8", "ByteStorage", "U8", "BoolStorage", "BOOL");
  private static final Set<String> REBUILD = Set.of("_rebuild_tensor_v2", "_rebuild_tensor", "_rebuild_parameter",
      "_rebuild_parameter_with_state");
  private static final java.math.BigInteger LEGACY_MAGIC = new java.math.BigInteger("1950a86a20f9469cfc6c", 16);

  private TorchPth() {}

  /** A storage named by a persistent id; bytes are attached once known. */
  static final class Storage {
    final String dtype;
    final String key;
    final long numel;
    ByteBuffer bytes;

    Storage(String dtype, String key, long numel) {
      this.dtype = dtype;
      this.key = key;
      this.numel = numel;
    }
  }

  /** A tensor view over a storage, materialised after all storages are read. */
  record View(Storage storage, long offset, long[] size, long[] stride) {}

  /** Reads a {@code .pth}/{@code .pt} state dict (zip or legacy format). */
  public static StateDict read(Path path) {
    return read(path, null);
  }

  /**
   * As {@link #read(Path)}, also filling {@code storedDtypes} (when not null) with each tensor's dtype as stored
   * ({@code F16}, {@code BF16}, ...: the tensors themselves are widened to float32).
   */
  public static StateDict read(Path path, Map<String, String> storedDtypes) {
    String src = path.toString();
    if (!Files.isRegularFile(path)) {
      throw new GraftException(src + ": no such file");
    }
    byte[] head = new byte[512];
    int n;
    try (InputStream in = Files.newInputStream(path)) {
      n = in.readNBytes(head, 0, head.length);
    } catch (IOException e) {
      throw new GraftException(src + ": cannot read: " + e.getMessage(), e);
    }
    if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
      return readZip(path, storedDtypes);
    }
    if (n >= 2 && (head[0] & 0xFF) == 0x80 && head[1] >= 2) {
      return readLegacy(path, storedDtypes);
    }
    if (n >= 262 && new String(head, 257, 5, java.nio.charset.StandardCharsets.ISO_8859_1).equals("ustar")) {
      throw new GraftException(src + ": a tar-format PyTorch file (before 0.4) is not supported; re-save it with a "
          + "current torch.save");
    }
    throw new GraftException(src + ": not a PyTorch file (neither a zip archive nor a legacy pickle; first bytes "
        + hex(head, Math.min(n, 8)) + ")");
  }

  private static String hex(byte[] b, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append(String.format("%02x", b[i]));
    }
    return sb.toString();
  }

  // ---------------------------------------------------------------- zip

  private static StateDict readZip(Path path, Map<String, String> storedDtypes) {
    String src = path.toString();
    try (ZipFile zip = new ZipFile(path.toFile())) {
      ZipEntry pkl = null;
      int entries = 0;
      for (Enumeration<? extends ZipEntry> e = zip.entries(); e.hasMoreElements(); ) {
        ZipEntry z = nextEntry(e, src);
        entries++;
        String name = z.getName();
        if (name.endsWith("/data.pkl") && name.indexOf('/') == name.length() - "/data.pkl".length()) {
          if (pkl != null) {
            throw new GraftException(src + ": two data.pkl entries (" + pkl.getName() + ", " + name + ")");
          }
          pkl = z;
        }
      }
      if (pkl == null) {
        throw new GraftException(src + ": zip archive without <name>/data.pkl (" + entries
            + " entries): not a torch.save file");
      }
      String prefix = pkl.getName().substring(0, pkl.getName().length() - "data.pkl".length());
      ZipEntry order = entry(zip, prefix + "byteorder", src);
      if (order != null) {
        String bo = new String(readEntry(zip, order, 16, src), java.nio.charset.StandardCharsets.US_ASCII).trim();
        if (!bo.equals("little")) {
          throw new GraftException(src + ": byte order '" + bo + "' is not supported (only little-endian)");
        }
      }
      byte[] pickle = readEntry(zip, pkl, Files.size(path), src);
      Map<String, Storage> storages = new LinkedHashMap<>();
      Object root = Unpickler.load(ByteBuffer.wrap(pickle), src + " (" + pkl.getName() + ")",
          new Handler(src, pid -> zipStorage(pid, storages, src)));
      for (Storage s : storages.values()) {
        ZipEntry z = entry(zip, prefix + "data/" + s.key, src);
        if (z == null) {
          throw new GraftException(src + ": storage '" + s.key + "' has no entry " + prefix + "data/" + s.key);
        }
        long expected = s.numel * TensorBytes.elementSize(s.dtype);
        if (z.getSize() >= 0 && z.getSize() != expected) {
          throw new GraftException(src + ": storage '" + s.key + "' declares " + s.numel + " " + s.dtype
              + " elements (" + expected + " bytes) but its entry holds " + z.getSize() + " bytes");
        }
        byte[] b = readEntry(zip, z, expected, src);
        if (b.length != expected) {
          throw new GraftException(src + ": storage '" + s.key + "' has " + b.length + " bytes, expected " + expected);
        }
        s.bytes = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
      }
      return toStateDict(root, src, storedDtypes);
    } catch (ZipException e) {
      throw new GraftException(src + ": broken zip archive (" + e.getMessage() + "); the file may be truncated", e);
    } catch (IOException e) {
      throw new GraftException(src + ": cannot read: " + e.getMessage(), e);
    }
  }

  // java.util.zip decodes entry names and comments lazily and reports malformed UTF-8 with an unchecked
  // IllegalArgumentException; these two turn it into a refusal that names the file.
  private static ZipEntry nextEntry(Enumeration<? extends ZipEntry> e, String src) {
    try {
      return e.nextElement();
    } catch (IllegalArgumentException bad) {
      throw new GraftException(src + ": broken zip archive (an entry name or comment is not valid UTF-8: "
          + bad.getMessage() + ")", bad);
    }
  }

  private static ZipEntry entry(ZipFile zip, String name, String src) {
    try {
      return zip.getEntry(name);
    } catch (IllegalArgumentException bad) {
      throw new GraftException(src + ": broken zip archive (entry " + name + " has a name or comment that is not "
          + "valid UTF-8: " + bad.getMessage() + ")", bad);
    }
  }

  private static byte[] readEntry(ZipFile zip, ZipEntry z, long limit, String src) throws IOException {
    long size = z.getSize();
    if (size > limit || size > Integer.MAX_VALUE - 8) {
      throw new GraftException(src + ": zip entry " + z.getName() + " declares " + size + " bytes, more than "
          + Math.min(limit, Integer.MAX_VALUE - 8) + " possible");
    }
    try (InputStream in = zip.getInputStream(z)) {
      byte[] b = in.readNBytes((int) Math.min(limit, Integer.MAX_VALUE - 8) + 1);
      if (b.length > limit) {
        throw new GraftException(src + ": zip entry " + z.getName() + " is larger than declared");
      }
      return b;
    }
  }

  /** A storage's declared element count: not negative, and its byte size must fit a {@code long}. */
  private static long storageNumel(Object declared, String key, String dtype, String src) {
    long numel = asLong(declared, "storage numel", src);
    if (numel < 0) {
      throw new GraftException(src + ": storage '" + key + "' has negative size " + numel);
    }
    if (numel > Long.MAX_VALUE / TensorBytes.elementSize(dtype)) {
      throw new GraftException(src + ": storage '" + key + "' declares " + numel + " " + dtype
          + " elements, more bytes than any file holds");
    }
    return numel;
  }

  private static Storage zipStorage(Object pid, Map<String, Storage> storages, String src) {
    if (!(pid instanceof Tuple t) || t.size() < 5 || !"storage".equals(t.get(0))) {
      throw new GraftException(src + ": unexpected persistent id " + Unpickler.describe(pid) + " (expected "
          + "('storage', type, key, location, numel))");
    }
    String dtype = storageDtype(t.get(1), src);
    String key = storageKey(t.get(2), src);
    long numel = storageNumel(t.get(4), key, dtype, src);
    Storage s = storages.computeIfAbsent(key, k -> new Storage(dtype, k, numel));
    if (!s.dtype.equals(dtype) || s.numel != numel) {
      throw new GraftException(src + ": storage '" + key + "' is declared twice with different types or sizes");
    }
    return s;
  }

  // ---------------------------------------------------------------- legacy

  private static StateDict readLegacy(Path path, Map<String, String> storedDtypes) {
    String src = path.toString();
    ByteBuffer buf;
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      if (ch.size() > Integer.MAX_VALUE) {
        throw new GraftException(src + ": legacy-format files over 2 GiB are not supported; re-save in zip format");
      }
      buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size()).order(ByteOrder.LITTLE_ENDIAN);
    } catch (IOException e) {
      throw new GraftException(src + ": cannot read: " + e.getMessage(), e);
    }
    Unpickler.Handler plain = new Handler(src, pid -> {
      throw new GraftException(src + ": unexpected persistent id in a legacy header");
    });
    Object magic = Unpickler.load(buf, src + " (magic number)", plain);
    if (!LEGACY_MAGIC.equals(magic)) {
      throw new GraftException(src + ": a pickle, but not a torch.save file (magic number "
          + (magic instanceof Long || magic instanceof java.math.BigInteger ? magic : Unpickler.describe(magic)) + ")");
    }
    Object protocol = Unpickler.load(buf, src + " (protocol version)", plain);
    if (!(protocol instanceof Long p) || p != 1001) {
      throw new GraftException(src + ": unsupported legacy protocol version " + Unpickler.describe(protocol));
    }
    Unpickler.load(buf, src + " (sys info)", plain);
    Map<String, Storage> storages = new LinkedHashMap<>();
    Map<String, long[]> views = new HashMap<>();
    Object root = Unpickler.load(buf, src, new Handler(src, pid -> legacyStorage(pid, storages, views, src)));
    Object keys = Unpickler.load(buf, src + " (storage keys)", plain);
    if (!(keys instanceof List<?> keyList)) {
      throw new GraftException(src + ": storage key list missing");
    }
    for (Object k : keyList) {
      if (!(k instanceof String) && !(k instanceof Long)) {
        throw new GraftException(src + ": storage key list holds a " + Unpickler.describe(k));
      }
      Storage s = storages.get(String.valueOf(k));
      if (s == null) {
        throw new GraftException(src + ": storage key '" + k + "' is not used by any tensor");
      }
      if (buf.remaining() < 8) {
        throw new GraftException(src + ": truncated: storage '" + k + "' is missing");
      }
      long numel = buf.getLong();
      int es = TensorBytes.elementSize(s.dtype);
      if (numel != s.numel || numel < 0 || numel * es > buf.remaining()) {
        throw new GraftException(src + ": storage '" + k + "' declares " + numel + " elements; the tensor header said "
            + s.numel + " and " + buf.remaining() + " bytes remain");
      }
      ByteBuffer b = buf.slice().order(ByteOrder.LITTLE_ENDIAN);
      b.limit((int) (numel * es));
      s.bytes = b;
      buf.position(buf.position() + (int) (numel * es));
    }
    for (Storage s : storages.values()) {
      if (s.bytes == null) {
        throw new GraftException(src + ": storage '" + s.key + "' is used by a tensor but missing from the file's "
            + "storage list");
      }
    }
    if (!views.isEmpty()) {
      throw new GraftException(src + ": storage views (torch < 0.4 files) are not supported: " + views.keySet());
    }
    return toStateDict(root, src, storedDtypes);
  }

  private static Storage legacyStorage(Object pid, Map<String, Storage> storages, Map<String, long[]> views,
      String src) {
    if (!(pid instanceof Tuple t) || t.size() < 6 || !"storage".equals(t.get(0))) {
      throw new GraftException(src + ": unexpected persistent id " + Unpickler.describe(pid));
    }
    String dtype = storageDtype(t.get(1), src);
    String key = storageKey(t.get(2), src);
    long numel = storageNumel(t.get(4), key, dtype, src);
    if (t.get(5) != Unpickler.NONE) {
      views.put(key, new long[0]);
    }
    return storages.computeIfAbsent(key, k -> new Storage(dtype, k, numel));
  }

  // ---------------------------------------------------------------- shared

  private static String storageDtype(Object type, String src) {
    if (type instanceof Global g && g.module().equals("torch") && STORAGES.containsKey(g.name())) {
      return STORAGES.get(g.name());
    }
    throw new GraftException(src + ": unsupported storage type " + Unpickler.describe(type));
  }

  private static String storageKey(Object k, String src) {
    if (k instanceof String || k instanceof Long) {
      return String.valueOf(k);
    }
    throw new GraftException(src + ": storage key is a " + Unpickler.describe(k) + ", not a string");
  }

  private static long asLong(Object o, String what, String src) {
    if (o instanceof Long l) {
      return l;
    }
    throw new GraftException(src + ": " + what + " is " + Unpickler.describe(o) + ", not an integer");
  }

  /** The whitelist and what its entries build. */
  private static final class Handler implements Unpickler.Handler {
    private final String src;
    private final java.util.function.Function<Object, Object> storages;

    Handler(String src, java.util.function.Function<Object, Object> storages) {
      this.src = src;
      this.storages = storages;
    }

    @Override
    public boolean allowed(String module, String name) {
      return (module.equals("collections") && name.equals("OrderedDict"))
          || (module.equals("torch._utils") && REBUILD.contains(name))
          || (module.equals("torch") && (STORAGES.containsKey(name) || name.equals("Size")));
    }

    @Override
    public Object reduce(Global g, Tuple args) {
      switch (g.name()) {
        case "OrderedDict" -> {
          return new LinkedHashMap<>();
        }
        case "Size" -> {
          return args.size() == 1 ? args.get(0) : new Tuple(List.of());
        }
        case "_rebuild_parameter", "_rebuild_parameter_with_state" -> {
          return args.get(0);
        }
        case "_rebuild_tensor_v2", "_rebuild_tensor" -> {
          if (args.size() < 4 || !(args.get(0) instanceof Storage s)) {
            throw new GraftException(src + ": malformed " + g.name() + " arguments");
          }
          long offset = asLong(args.get(1), "storage offset", src);
          long[] size = longs(args.get(2), "size");
          long[] stride = longs(args.get(3), "stride");
          if (size.length != stride.length) {
            throw new GraftException(src + ": tensor size " + java.util.Arrays.toString(size) + " and stride "
                + java.util.Arrays.toString(stride) + " have different ranks");
          }
          return new View(s, offset, size, stride);
        }
        default -> throw new GraftException(src + ": " + g.qualified() + " cannot be called");
      }
    }

    private long[] longs(Object o, String what) {
      if (!(o instanceof Tuple t)) {
        throw new GraftException(src + ": tensor " + what + " is " + Unpickler.describe(o) + ", not a tuple");
      }
      long[] out = new long[t.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = asLong(t.get(i), "tensor " + what, src);
      }
      return out;
    }

    @Override
    public void build(Object obj, Object state) {
      // OrderedDict state (the state dict's _metadata) and tensor state carry nothing Graft needs
      if (!(obj instanceof Map) && !(obj instanceof View)) {
        throw new GraftException(src + ": BUILD on " + Unpickler.describe(obj) + " is not supported");
      }
    }

    @Override
    public Object persistentLoad(Object pid) {
      return storages.apply(pid);
    }
  }

  @SuppressWarnings("unchecked")
  private static StateDict toStateDict(Object root, String src, Map<String, String> storedDtypes) {
    if (!(root instanceof Map<?, ?> map)) {
      if (root instanceof View) {
        throw new GraftException(src + ": holds a single tensor, not a state dict");
      }
      throw new GraftException(src + ": holds a " + Unpickler.describe(root) + ", not a state dict");
    }
    for (String wrapper : new String[] {"state_dict", "model", "model_state_dict", "net"}) {
      Object inner = map.get(wrapper);
      if (inner instanceof Map<?, ?> m && m.values().stream().anyMatch(v -> v instanceof View)) {
        map = m;
        break;
      }
    }
    StateDict sd = new StateDict();
    boolean allPrefixed = !map.isEmpty();
    for (Object k : map.keySet()) {
      allPrefixed &= k instanceof String s && s.startsWith("module.");
    }
    for (Map.Entry<?, ?> e : map.entrySet()) {
      if (!(e.getValue() instanceof View v)) {
        continue;
      }
      String key = String.valueOf(e.getKey());
      if (allPrefixed) {
        key = key.substring("module.".length());
      }
      sd.put(key, materialise(v, key, src));
      if (storedDtypes != null) {
        storedDtypes.put(key, v.storage().dtype);
      }
    }
    if (sd.isEmpty()) {
      throw new GraftException(src + ": no tensors found (top-level keys: " + map.keySet() + ")");
    }
    return sd;
  }

  /** Copies a (possibly strided, shared) view out of its storage into a contiguous tensor, bounds-checked. */
  static Tensor materialise(View v, String key, String src) {
    Storage s = v.storage();
    long[] size = v.size();
    for (long d : size) {
      if (d < 0) {
        throw new GraftException(src + ": tensor '" + key + "' has negative size " + java.util.Arrays.toString(size));
      }
    }
    Shapes.checkNew(src + ": tensor '" + key + "'", size);
    long numel = Shapes.numel(size);
    int es = TensorBytes.elementSize(s.dtype);
    if (numel == 0) {
      return TensorBytes.decode(s.dtype, size, ByteBuffer.allocate(0));
    }
    long lo = v.offset();
    long hi = v.offset();
    try {
      for (int i = 0; i < size.length; i++) {
        long span = Math.multiplyExact(size[i] - 1, v.stride()[i]);
        if (span < 0) {
          lo = Math.addExact(lo, span);
        } else {
          hi = Math.addExact(hi, span);
        }
      }
    } catch (ArithmeticException e) {
      throw new GraftException(src + ": tensor '" + key + "' has strides " + java.util.Arrays.toString(v.stride())
          + " that overflow");
    }
    if (lo < 0 || hi >= s.numel) {
      throw new GraftException(src + ": tensor '" + key + "' of size " + java.util.Arrays.toString(size) + ", stride "
          + java.util.Arrays.toString(v.stride()) + ", offset " + v.offset() + " reaches element " + (lo < 0 ? lo : hi)
          + " of storage '" + s.key + "', which holds " + s.numel);
    }
    if (numel > (Integer.MAX_VALUE - 8) / es) {
      throw new GraftException(src + ": tensor '" + key + "' is larger than 2 GiB; not supported");
    }
    ByteBuffer data = s.bytes;
    if (data == null) {
      throw new GraftException(src + ": tensor '" + key + "' refers to storage '" + s.key + "', which has no data");
    }
    if (isContiguous(size, v.stride())) {
      ByteBuffer b = data.duplicate();
      b.position((int) (v.offset() * es));
      b = b.slice();
      b.limit((int) (numel * es));
      return TensorBytes.decode(s.dtype, size, b.order(ByteOrder.LITTLE_ENDIAN));
    }
    byte[] out = new byte[(int) (numel * es)];
    long[] idx = new long[size.length];
    long pos = v.offset();
    for (int n = 0; n < numel; n++) {
      data.get((int) (pos * es), out, n * es, es);
      for (int d = size.length - 1; d >= 0; d--) {
        idx[d]++;
        pos += v.stride()[d];
        if (idx[d] < size[d]) {
          break;
        }
        pos -= idx[d] * v.stride()[d];
        idx[d] = 0;
      }
    }
    return TensorBytes.decode(s.dtype, size, ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN));
  }

  private static boolean isContiguous(long[] size, long[] stride) {
    long expected = 1;
    for (int i = size.length - 1; i >= 0; i--) {
      if (size[i] != 1 && stride[i] != expected) {
        return false;
      }
      expected *= size[i];
    }
    return true;
  }
}
