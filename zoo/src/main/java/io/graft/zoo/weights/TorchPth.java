package io.graft.zoo.weights;

import io.graft.core.GraftException;
import io.graft.core.Layout;
import io.graft.core.Shapes;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.FileBytes;
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
 *       its storage's size and copied out contiguous. Negative strides are refused (as torch refuses them), and so is
 *       a rank above {@link Shapes#MAX_RANK}, naming the tensor.
 *   <li>Zip: the data pickle is {@code <stem>/data.pkl} (any top folder), storages {@code <stem>/data/<key>}
 *       (read with {@link ZipFile}; torch stores entries uncompressed, deflated ones are accepted within
 *       {@link #MAX_INFLATE_RATIO}). Legacy: magic number, protocol, sys info, the data pickle, the storage key
 *       list, then each storage as an 8-byte element count and its bytes.
 *   <li>{@code {"state_dict": ...}} and {@code {"model": ...}} wrappers are unwrapped, a {@code module.} prefix
 *       (DataParallel) is stripped; non-tensor entries are ignored.
 * </ul>
 *
 * Declared sizes are checked against the file before anything large is allocated.
 *
 * <p>Memory is proportional to the bytes in the file. Graft materialises views (PyTorch keeps them as views), so a
 * view may expand its storage only within a bound: all tensors of a file together may hold at most
 * {@link #MAX_VIEW_EXPANSION} times the bytes of the storages they view, plus {@link #VIEW_ALLOWANCE} (tied weights
 * viewing one storage twice pass; a stride-0 view of billions of elements over a few bytes does not). Compressed zip
 * entries are inflated to at most their declared size (the stream is cut there, never trusted) and all of them
 * together to at most {@link #MAX_INFLATE_RATIO} times the file's size plus {@link #INFLATE_ALLOWANCE}. Storages are
 * read one at a time and released once their tensors are built; each tensor is decoded in bounded chunks.
 *
 * <p>The readers' rule: a file of N bytes makes the process allocate at most max(64 MiB, 4·N) beyond the tensors it
 * returns (k = 4: one storage's bytes, at most N, or inflated ones, at most 4·N + 64 MiB, plus chunks); the tensors are
 * bounded in turn by 2·(2·N + 64 MiB) + {@link #VIEW_ALLOWANCE} (views copied out, float16/bfloat16 widening to
 * float32).
 */
public final class TorchPth {
  /** All tensors of a file hold at most this many times the bytes of the storages they view (plus the allowance). */
  public static final int MAX_VIEW_EXPANSION = 2;
  /**
   * Bytes of tensor data any file may build beyond {@link #MAX_VIEW_EXPANSION} times its storages: 1 GiB, the same
   * cap as an ONNX graph's intermediates. Overlapping views are legitimate torch files (Graft's own zoo fixtures build
   * VGG-11's 531 MB of weights from views of 257 KB of storages), so the bound is a cap, not a ratio alone.
   */
  public static final long VIEW_ALLOWANCE = 1L << 30;
  /** Compressed zip entries inflate, all together, to at most this many times the file's size (plus allowance). */
  public static final int MAX_INFLATE_RATIO = 4;
  /** Bytes compressed entries may inflate to beyond {@link #MAX_INFLATE_RATIO} times the file's size. */
  public static final long INFLATE_ALLOWANCE = 64L << 20;
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
      long fileSize = Files.size(path);
      long[] inflateBudget = {INFLATE_ALLOWANCE + MAX_INFLATE_RATIO * fileSize};
      ZipEntry order = entry(zip, prefix + "byteorder", src);
      if (order != null) {
        String bo = new String(readEntry(zip, order, 16, inflateBudget, src), java.nio.charset.StandardCharsets.US_ASCII).trim();
        if (!bo.equals("little")) {
          throw new GraftException(src + ": byte order '" + bo + "' is not supported (only little-endian)");
        }
      }
      byte[] pickle = readEntry(zip, pkl, fileSize, inflateBudget, src);
      Map<String, Storage> storages = new LinkedHashMap<>();
      Object root = Unpickler.load(ByteBuffer.wrap(pickle), src + " (" + pkl.getName() + ")",
          new Handler(src, pid -> zipStorage(pid, storages, src)));
      Map<Storage, ZipEntry> storageEntries = new LinkedHashMap<>();
      long compressed = 0;
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
        if (z.getMethod() != ZipEntry.STORED) {
          compressed += expected;
        }
        storageEntries.put(s, z);
      }
      if (compressed > inflateBudget[0]) {
        throw inflateError(src, "its compressed storages declare " + compressed + " bytes", fileSize);
      }
      List<Named> named = tensors(root, src);
      checkViews(named, src);
      // one storage in memory at a time: read it, build the tensors that view it, let it go
      Tensor[] built = new Tensor[named.size()];
      for (Map.Entry<Storage, ZipEntry> e : storageEntries.entrySet()) {
        Storage s = e.getKey();
        long expected = s.numel * TensorBytes.elementSize(s.dtype);
        boolean used = named.stream().anyMatch(n -> n.view().storage() == s);
        if (!used) {
          continue;
        }
        byte[] b = readEntry(zip, e.getValue(), expected, inflateBudget, src);
        if (b.length != expected) {
          throw new GraftException(src + ": storage '" + s.key + "' has " + b.length + " bytes, expected " + expected);
        }
        s.bytes = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < built.length; i++) {
          if (named.get(i).view().storage() == s) {
            built[i] = materialise(named.get(i).view(), named.get(i).key(), src);
          }
        }
        s.bytes = null;
      }
      return toStateDict(named, built, src, storedDtypes);
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

  /**
   * An entry's bytes: at most {@code limit} and, for a compressed entry, at most what is left of {@code budget}
   * (charged). The stream is cut at the declared size, which must be honest: more or fewer bytes are an error.
   */
  private static byte[] readEntry(ZipFile zip, ZipEntry z, long limit, long[] budget, String src) throws IOException {
    long size = z.getSize();
    long cap = Math.min(limit, Integer.MAX_VALUE - 8);
    if (size > cap) {
      throw new GraftException(src + ": zip entry " + z.getName() + " declares " + size + " bytes, more than "
          + cap + " possible");
    }
    long want = size >= 0 ? size : cap;
    if (z.getMethod() != ZipEntry.STORED) {
      if (want > budget[0]) {
        throw inflateError(src, "zip entry " + z.getName() + " declares " + want + " bytes", -1);
      }
    }
    try (InputStream in = zip.getInputStream(z)) {
      byte[] b = new byte[(int) want];
      int n = in.readNBytes(b, 0, b.length);
      if (size >= 0 && n < size) {
        throw new GraftException(src + ": zip entry " + z.getName() + " holds " + n + " bytes but declares " + size);
      }
      if (in.read() >= 0) {
        throw new GraftException(src + ": zip entry " + z.getName() + " is larger than declared (" + want
            + " bytes)");
      }
      if (z.getMethod() != ZipEntry.STORED) {
        budget[0] -= n;
      }
      return n == b.length ? b : java.util.Arrays.copyOf(b, n);
    }
  }

  private static GraftException inflateError(String src, String what, long fileSize) {
    return new GraftException(src + ": " + what + " when inflated, more than compressed entries may expand to ("
        + MAX_INFLATE_RATIO + " x the file's size + " + (INFLATE_ALLOWANCE >> 20) + " MiB in all"
        + (fileSize >= 0 ? ", " + (MAX_INFLATE_RATIO * fileSize + INFLATE_ALLOWANCE) + " bytes here" : "")
        + "); re-save it with torch.save, which stores entries uncompressed");
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
      buf = FileBytes.read(ch, 0, ch.size()).order(ByteOrder.LITTLE_ENDIAN);
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
    List<Named> named = tensors(root, src);
    checkViews(named, src);
    Tensor[] built = new Tensor[named.size()];
    for (int i = 0; i < built.length; i++) {
      built[i] = materialise(named.get(i).view(), named.get(i).key(), src);
    }
    return toStateDict(named, built, src, storedDtypes);
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

  /** A state-dict entry: its key (wrapper and DataParallel prefix removed) and its view. */
  record Named(String key, View view) {}

  /** The tensors of a state dict, in order (wrappers unwrapped, a common {@code module.} prefix stripped). */
  private static List<Named> tensors(Object root, String src) {
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
    boolean allPrefixed = !map.isEmpty();
    for (Object k : map.keySet()) {
      allPrefixed &= k instanceof String s && s.startsWith("module.");
    }
    List<Named> out = new java.util.ArrayList<>();
    for (Map.Entry<?, ?> e : map.entrySet()) {
      if (!(e.getValue() instanceof View v)) {
        continue;
      }
      String key = String.valueOf(e.getKey());
      if (allPrefixed) {
        key = key.substring("module.".length());
      }
      out.add(new Named(key, v));
    }
    if (out.isEmpty()) {
      throw new GraftException(src + ": no tensors found (top-level keys: " + map.keySet() + ")");
    }
    return out;
  }

  private static StateDict toStateDict(List<Named> named, Tensor[] built, String src,
      Map<String, String> storedDtypes) {
    StateDict sd = new StateDict();
    for (int i = 0; i < built.length; i++) {
      sd.put(named.get(i).key(), built[i]);
      if (storedDtypes != null) {
        storedDtypes.put(named.get(i).key(), named.get(i).view().storage().dtype);
      }
    }
    return sd;
  }

  /**
   * Validates every view ({@link #check}) and the file's expansion bound before any tensor is built: the bytes of
   * all tensors may exceed {@link #MAX_VIEW_EXPANSION} times those of the storages they view by at most
   * {@link #VIEW_ALLOWANCE}.
   */
  static void checkViews(List<Named> named, String src) {
    long tensorBytes = 0;
    long storageBytes = 0;
    java.util.Set<Storage> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    for (Named n : named) {
      long numel = check(n.view(), n.key(), src);
      Storage s = n.view().storage();
      int es = TensorBytes.elementSize(s.dtype);
      tensorBytes += numel * es; // each below 2^31 elements of at most 8 bytes: no overflow for 2^31 tensors
      if (seen.add(s)) {
        storageBytes += s.numel * es; // every storage's bytes are checked against the file before this
      }
      if (tensorBytes > VIEW_ALLOWANCE && tensorBytes - VIEW_ALLOWANCE > MAX_VIEW_EXPANSION * storageBytes) {
        throw new GraftException(src + ": tensor '" + n.key() + "' (size " + java.util.Arrays.toString(
            n.view().size()) + ", stride " + java.util.Arrays.toString(n.view().stride()) + ") brings the tensors "
            + "read so far to " + tensorBytes + " bytes, more than " + MAX_VIEW_EXPANSION + " x the " + storageBytes
            + " bytes of their storages + " + (VIEW_ALLOWANCE >> 20) + " MiB: views may not expand storages beyond "
            + "that (Graft copies views out; PyTorch would share the storage)");
      }
    }
  }

  /**
   * Checks a view against its storage, naming the tensor: rank at most {@link Shapes#MAX_RANK}, sizes and strides not
   * negative, element count within {@link Shapes#checkNew}'s bounds and every element inside the storage. Returns
   * the element count.
   */
  static long check(View v, String key, String src) {
    String what = src + ": tensor '" + key + "'";
    Storage s = v.storage();
    long[] size = v.size();
    Shapes.checkRank(what, size);
    for (long d : size) {
      if (d < 0) {
        throw new GraftException(what + " has negative size " + java.util.Arrays.toString(size));
      }
    }
    for (long st : v.stride()) {
      if (st < 0) {
        throw new GraftException(what + " has negative stride " + java.util.Arrays.toString(v.stride())
            + " (PyTorch refuses negative strides too)");
      }
    }
    if (v.offset() < 0) {
      throw new GraftException(what + " has negative storage offset " + v.offset());
    }
    Shapes.checkNew(what, size);
    long numel = Shapes.numel(size);
    if (numel == 0) {
      return 0;
    }
    long hi = v.offset();
    try {
      for (int i = 0; i < size.length; i++) {
        hi = Math.addExact(hi, Math.multiplyExact(size[i] - 1, v.stride()[i]));
      }
    } catch (ArithmeticException e) {
      throw new GraftException(what + " has strides " + java.util.Arrays.toString(v.stride()) + " that overflow");
    }
    if (hi >= s.numel) {
      throw new GraftException(what + " of size " + java.util.Arrays.toString(size) + ", stride "
          + java.util.Arrays.toString(v.stride()) + ", offset " + v.offset() + " reaches element " + hi
          + " of storage '" + s.key + "', which holds " + s.numel);
    }
    return numel;
  }

  /**
   * Copies a (possibly strided, shared) view out of its storage into a contiguous tensor, bounds-checked: the
   * elements are gathered in chunks straight into the new tensor ({@link TensorBytes#decode(String, long[],
   * TensorBytes.Source)}), so nothing the size of the tensor is allocated besides the tensor.
   */
  static Tensor materialise(View v, String key, String src) {
    long numel = check(v, key, src);
    Storage s = v.storage();
    long[] size = v.size();
    int es = TensorBytes.elementSize(s.dtype);
    if (numel == 0) {
      return TensorBytes.decode(s.dtype, size, ByteBuffer.allocate(0));
    }
    ByteBuffer data = s.bytes;
    if (data == null) {
      throw new GraftException(src + ": tensor '" + key + "' refers to storage '" + s.key + "', which has no data");
    }
    if (Layout.isCContiguous(size, v.stride())) {
      ByteBuffer b = data.duplicate();
      b.position(Math.toIntExact(v.offset() * es));
      b = b.slice();
      b.limit(Math.toIntExact(numel * es));
      return TensorBytes.decode(s.dtype, size, b.order(ByteOrder.LITTLE_ENDIAN));
    }
    long[] stride = v.stride();
    long[] idx = new long[size.length];
    long[] pos = {v.offset()};
    ByteBuffer in = data.duplicate();
    return TensorBytes.decode(s.dtype, size, (dst, off, len) -> {
      // len is a whole number of elements: chunks are multiples of every element size
      for (int o = off; o < off + len; o += es) {
        in.get((int) (pos[0] * es), dst, o, es);
        for (int d = size.length - 1; d >= 0; d--) {
          idx[d]++;
          pos[0] += stride[d];
          if (idx[d] < size[d]) {
            break;
          }
          pos[0] -= idx[d] * stride[d];
          idx[d] = 0;
        }
      }
    });
  }
}
