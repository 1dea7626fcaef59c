package io.graft.core.backend;

import io.graft.core.GraftException;
import io.graft.core.Layout;
import org.bytedeco.dnnl.const_dnnl_op_desc_t;
import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_primitive_desc_iterator;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_FROM;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_TO;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu;
import static org.bytedeco.dnnl.global.dnnl.dnnl_engine_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_equal;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_get_size;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_init_by_strides;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_init_by_tag;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_set_scratchpad_mode;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_iterator_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_iterator_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_iterator_fetch;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_iterator_next;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_query;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_query_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_execute;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_impl_info_str;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_scratchpad_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_reorder_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_scratchpad_mode_user;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_default_flags;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_wait;
import static org.bytedeco.dnnl.global.dnnl.dnnl_success;

/**
 * oneDNN called directly (javacpp's {@code org.bytedeco:dnnl} preset) for float32 arrays on ND4J's CPU backend.
 *
 * <p>Why: libnd4j runs oneDNN too, but wraps each call in reorders of its own (including of uninitialised output
 * buffers), always computes both convolution gradients, and allocates its scratch memory afresh on every call
 * (page faults). Here primitives are created once per shape and cached, activations stay channels_last between
 * primitives (reordered only where an array comes in another layout: {@link Port}), and the reordered copies and the
 * scratchpad live in a per-thread arena that is reused.
 *
 * <p>Thread safety: primitives run with a user-provided scratchpad, so one primitive may run on several threads
 * at once; each thread has its own stream and arena. Off when ND4J's backend is not the CPU one (CUDA), when the
 * preset cannot load on this platform, or with {@code -Dgraft.onednn=false} (then libnd4j's kernels run).
 */
final class OneDnn {
  /** System property that turns the direct oneDNN path off ({@code false}); on by default. */
  static final String PROPERTY = "graft.onednn";
  private static final System.Logger LOG = System.getLogger("io.graft");
  private static final int ALIGN = 64;
  private static final dnnl_engine ENGINE;
  private static final boolean AVAILABLE;

  static {
    dnnl_engine engine = null;
    boolean ok = false;
    if (Boolean.parseBoolean(System.getProperty(PROPERTY, "true")) && isCpuBackend()) {
      try {
        Loader.load(org.bytedeco.dnnl.global.dnnl.class);
        engine = new dnnl_engine();
        check(dnnl_engine_create(engine, dnnl_cpu, 0), "engine_create");
        ok = true;
      } catch (Throwable e) { // UnsatisfiedLinkError on a platform the preset does not cover
        LOG.log(System.Logger.Level.WARNING, "Graft: oneDNN could not be loaded (" + e
            + "); convolutions use libnd4j's kernels");
      }
    }
    ENGINE = engine;
    AVAILABLE = ok;
  }

  /**
   * Whether convolutions store their outputs channels_last ({@code N, H, W, C} in memory; see {@link Layout}), so
   * that oneDNN's convolution and batch-norm kernels read and write them without reorders; system property
   * {@code graft.channelsLast} ({@code false}: C order, with a reorder to and from oneDNN's blocked layouts around
   * every convolution). Tests switch it with {@link #channelsLast(boolean)}.
   */
  private static volatile boolean channelsLast =
      Boolean.parseBoolean(System.getProperty("graft.channelsLast", "true"));

  static boolean channelsLast() {
    return channelsLast;
  }

  /** Sets {@link #channelsLast()}, returning the previous setting (for tests). */
  static boolean channelsLast(boolean on) {
    boolean was = channelsLast;
    channelsLast = on;
    return was;
  }

  private static final ThreadLocal<dnnl_stream> STREAM = ThreadLocal.withInitial(() -> {
    dnnl_stream s = new dnnl_stream();
    check(dnnl_stream_create(s, ENGINE, dnnl_stream_default_flags), "stream_create");
    return s;
  });
  private static final ThreadLocal<Arena> ARENA = ThreadLocal.withInitial(Arena::new);
  /** The most arguments one primitive takes here (batch normalisation's backward: 11). */
  private static final int MAX_ARGS = 12;
  /**
   * Each thread's argument list for {@link #execute}, allocated once: a fresh one per call was a native allocation
   * (with javacpp's bookkeeping) for every primitive run.
   */
  private static final ThreadLocal<dnnl_exec_arg_t> EXEC_ARGS = ThreadLocal.withInitial(
      () -> new dnnl_exec_arg_t(MAX_ARGS));

  private OneDnn() {}

  /** Whether the direct path is on and every array is float32 (oneDNN's CPU convolutions have no float64). */
  static boolean usable(INDArray... arrays) {
    if (!AVAILABLE) {
      return false;
    }
    for (INDArray a : arrays) {
      if (a != null && a.dataType() != DataType.FLOAT) {
        return false;
      }
    }
    return true;
  }

  private static boolean isCpuBackend() {
    try {
      return Nd4j.getBackend().getClass().getName().equals("org.nd4j.linalg.cpu.nativecpu.CpuBackend");
    } catch (Throwable e) {
      return false;
    }
  }

  static void check(int status, String what) {
    if (status != dnnl_success) {
      throw new GraftException("oneDNN " + what + " failed with status " + status);
    }
  }

  /** A plain float32 memory descriptor ({@code tag}: e.g. nchw, nhwc, oihw, goihw, x) or {@code format_tag::any}. */
  static dnnl_memory_desc_t md(long[] dims, int tag) {
    dnnl_memory_desc_t m = new dnnl_memory_desc_t();
    check(dnnl_memory_desc_init_by_tag(m, dims.length, dims, dnnl_f32, tag), "memory_desc_init " + tag);
    return m;
  }

  /** The float32 memory descriptor of a dense array (see {@link #dense}): its shape and strides. */
  static dnnl_memory_desc_t md(INDArray a) {
    dnnl_memory_desc_t m = new dnnl_memory_desc_t();
    check(dnnl_memory_desc_init_by_strides(m, a.rank(), a.shape(), dnnl_f32, strides(a)), "memory_desc_init");
    return m;
  }

  /**
   * A dense array's strides with those of size-1 dimensions (which mean nothing) made canonical, so that two arrays
   * with the same layout get equal descriptors.
   */
  static long[] strides(INDArray a) {
    int[] order = Layout.order(a);
    long[] shape = a.shape();
    long[] s = new long[shape.length];
    long step = 1;
    for (int i = order.length - 1; i >= 0; i--) {
      s[order[i]] = step;
      step *= shape[order[i]];
    }
    return s;
  }

  /** The strides of a C-ordered array of {@code dims} (what {@link #strides} gives for one). */
  static long[] cStrides(long[] dims) {
    long[] s = new long[dims.length];
    long step = 1;
    for (int i = dims.length - 1; i >= 0; i--) {
      s[i] = step;
      step *= dims[i];
    }
    return s;
  }

  /**
   * oneDNN has no primitive for a descriptor (status {@code unimplemented}, or arguments it rejects). Thrown only
   * while a plan is built, and caught only in {@link Cache#supports}, which turns it into the backend's typed answer
   * ({@link OneDnnKernels}' {@code supports...} say no, and {@link Backends} asks the next backend).
   */
  static final class Unsupported extends GraftException {
    Unsupported(String message) {
      super(message);
    }
  }

  /**
   * A primitive descriptor with a user-managed scratchpad (so that the primitive may run on several threads).
   *
   * @throws Unsupported when oneDNN has no implementation for it
   */
  static dnnl_primitive_desc primitiveDesc(Pointer opDesc, dnnl_primitive_desc hint, String what) {
    return primitiveDesc(opDesc, hint, what, impl -> false);
  }

  /**
   * {@link #primitiveDesc(Pointer, dnnl_primitive_desc, String)}, passing over implementations whose name
   * ({@code impl_info_str}, e.g. {@code jit:avx512_common}) {@code avoid} accepts, in oneDNN's order of
   * preference, unless no other is left.
   */
  static dnnl_primitive_desc primitiveDesc(Pointer opDesc, dnnl_primitive_desc hint, String what,
      java.util.function.Predicate<String> avoid) {
    dnnl_primitive_attr attr = userScratchpad();
    dnnl_primitive_desc_iterator it = new dnnl_primitive_desc_iterator();
    try {
      int status = dnnl_primitive_desc_iterator_create(it, new const_dnnl_op_desc_t(opDesc), attr, ENGINE, hint);
      if (status != dnnl_success) {
        throw new Unsupported("oneDNN has no " + what + " (status " + status + ")");
      }
      dnnl_primitive_desc first = dnnl_primitive_desc_iterator_fetch(it);
      dnnl_primitive_desc pd = first;
      while (avoid.test(implementation(pd)) && dnnl_primitive_desc_iterator_next(it) == dnnl_success) {
        if (pd != first) {
          destroy(pd);
        }
        pd = dnnl_primitive_desc_iterator_fetch(it);
      }
      if (pd != first && avoid.test(implementation(pd))) {
        destroy(pd); // nothing else: oneDNN's first choice after all
        pd = first;
      }
      if (pd != first) {
        destroy(first);
      }
      return pd;
    } finally {
      dnnl_primitive_desc_iterator_destroy(it);
      org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_destroy(attr);
    }
  }

  /** A primitive built from an operation descriptor, with its descriptor and scratchpad layout (null: none). */
  static final class Primitive {
    final dnnl_primitive_desc pd;
    final dnnl_primitive primitive;
    final dnnl_memory_desc_t scratch;

    /** @throws Unsupported when oneDNN has no implementation for {@code opDesc} */
    Primitive(Pointer opDesc, dnnl_primitive_desc hint, String what) {
      pd = primitiveDesc(opDesc, hint, what);
      primitive = OneDnn.primitive(pd, what);
      scratch = scratchpad(pd);
    }

    /** A region of the arena for the scratchpad, or null when the primitive needs none. */
    Pointer scratch(Arena arena) {
      return scratch == null ? null : arena.take(bytes(scratch));
    }

    void destroy() {
      OneDnn.destroy(primitive);
      OneDnn.destroy(pd);
    }
  }

  /** A primitive built on first use and kept (a backward primitive nobody may ask for), destroyed with its owner. */
  static final class Later {
    private final java.util.function.Supplier<Primitive> make;
    private Primitive built;

    Later(java.util.function.Supplier<Primitive> make) {
      this.make = make;
    }

    synchronized Primitive get() {
      if (built == null) {
        built = make.get();
      }
      return built;
    }

    synchronized void destroy() {
      if (built != null) {
        built.destroy();
        built = null;
      }
    }
  }

  /** The implementation's name, e.g. {@code jit:avx512_common}. */
  static String implementation(dnnl_primitive_desc pd) {
    org.bytedeco.javacpp.PointerPointer<BytePointer> name = new org.bytedeco.javacpp.PointerPointer<>(1);
    check(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, name), "query impl_info_str");
    return name.get(BytePointer.class, 0).getString();
  }

  private static dnnl_primitive_attr userScratchpad() {
    dnnl_primitive_attr attr = new dnnl_primitive_attr();
    check(dnnl_primitive_attr_create(attr), "primitive_attr_create");
    check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "set_scratchpad_mode");
    return attr;
  }

  static dnnl_primitive primitive(dnnl_primitive_desc pd, String what) {
    dnnl_primitive p = new dnnl_primitive();
    check(dnnl_primitive_create(p, pd), what);
    return p;
  }

  /** A copy of a memory descriptor that a primitive descriptor owns (valid after it is destroyed). */
  static dnnl_memory_desc_t query(dnnl_primitive_desc pd, int what) {
    dnnl_memory_desc_t m = new dnnl_memory_desc_t();
    m.put(dnnl_primitive_desc_query_md(pd, what, 0));
    return m;
  }

  static boolean same(dnnl_memory_desc_t a, dnnl_memory_desc_t b) {
    return dnnl_memory_desc_equal(a, b) != 0;
  }

  static void destroy(dnnl_primitive p) {
    if (p != null) {
      dnnl_primitive_destroy(p);
    }
  }

  static void destroy(dnnl_primitive_desc pd) {
    if (pd != null) {
      dnnl_primitive_desc_destroy(pd);
    }
  }

  /**
   * A layout conversion between a plain array and oneDNN's chosen layout: null when the two are the same (no copy
   * needed). The reordered copy's size is {@link #bytes}.
   */
  static final class Reorder {
    final dnnl_memory_desc_t from;
    final dnnl_memory_desc_t to;
    final dnnl_primitive primitive;

    private Reorder(dnnl_memory_desc_t from, dnnl_memory_desc_t to) {
      this.from = from;
      this.to = to;
      dnnl_primitive_desc pd = new dnnl_primitive_desc();
      dnnl_primitive_attr attr = userScratchpad();
      try {
        check(dnnl_reorder_primitive_desc_create(pd, from, ENGINE, to, ENGINE, attr), "reorder_primitive_desc");
      } finally {
        org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_destroy(attr);
      }
      try {
        // reorders run without a scratchpad argument: one that wanted scratch memory would be refused here rather
        // than share the library's between threads (plain <-> blocked float32 reorders need none)
        if (dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)) != 0) {
          throw new Unsupported("oneDNN reorder needs scratch memory");
        }
        this.primitive = primitive(pd, "reorder");
      } finally {
        dnnl_primitive_desc_destroy(pd);
      }
    }

    static Reorder between(dnnl_memory_desc_t from, dnnl_memory_desc_t to) {
      return same(from, to) ? null : new Reorder(from, to);
    }

    void run(Pointer src, Pointer dst) {
      execute(primitive, new int[] {DNNL_ARG_FROM, DNNL_ARG_TO}, new dnnl_memory_desc_t[] {from, to},
          new Pointer[] {src, dst});
    }

    void destroy() {
      dnnl_primitive_destroy(primitive);
    }
  }

  /** Bytes a descriptor's memory takes (0 for null), rounded up as {@link Arena#take} rounds. */
  static long bytes(dnnl_memory_desc_t md) {
    return md == null ? 0 : Arena.rounded(dnnl_memory_desc_get_size(md));
  }

  /**
   * Runs a primitive on this thread's stream and waits for it: {@code args[i]} is bound to memory of descriptor
   * {@code mds[i]} at {@code data[i]} (entries with a null descriptor are skipped, e.g. an empty scratchpad).
   */
  static void execute(dnnl_primitive p, int[] args, dnnl_memory_desc_t[] mds, Pointer[] data) {
    int n = 0;
    for (dnnl_memory_desc_t m : mds) {
      n += m == null ? 0 : 1;
    }
    dnnl_memory[] mems = new dnnl_memory[n];
    if (n > MAX_ARGS) {
      throw new IllegalStateException("oneDNN call with " + n + " arguments; at most " + MAX_ARGS);
    }
    dnnl_exec_arg_t a = EXEC_ARGS.get();
    try {
      int k = 0;
      for (int i = 0; i < args.length; i++) {
        if (mds[i] != null) {
          mems[k] = memory(mds[i], data[i]);
          a.position(k).arg(args[i]).memory(mems[k]);
          k++;
        }
      }
      dnnl_stream s = STREAM.get();
      check(dnnl_primitive_execute(p, s, n, a.position(0)), "primitive_execute");
      check(dnnl_stream_wait(s), "stream_wait");
    } finally {
      for (dnnl_memory m : mems) {
        if (m != null) {
          dnnl_memory_destroy(m);
        }
      }
    }
  }

  /** A scratchpad descriptor for a primitive, or null when it needs none. */
  static dnnl_memory_desc_t scratchpad(dnnl_primitive_desc pd) {
    dnnl_memory_desc_t m = query(pd, dnnl_query_scratchpad_md);
    return dnnl_memory_desc_get_size(m) == 0 ? null : m;
  }

  private static dnnl_memory memory(dnnl_memory_desc_t md, Pointer data) {
    dnnl_memory m = new dnnl_memory();
    check(dnnl_memory_create(m, md, ENGINE, data), "memory_create");
    return m;
  }

  /** This thread's arena, for reordered copies that live only during one call. */
  static Arena arena() {
    return ARENA.get();
  }

  /** The address of a float32 array's memory; the array must be dense over its whole buffer (see {@link #dense}). */
  static Pointer address(INDArray a) {
    return a.data().pointer();
  }

  /**
   * The array itself if it is dense (C order, channels_last, any order of its dimensions: see {@link Layout}) over
   * its own whole buffer, else a C-ordered copy.
   */
  static INDArray dense(INDArray a) {
    return a.offset() == 0 && a.data().length() == a.length() && Layout.order(a) != null ? a : a.dup('c');
  }

  /** The array itself if it is C-ordered over its own whole buffer, else a C-ordered copy. */
  static INDArray plain(INDArray a) {
    INDArray c = Layout.isCOrdered(a) ? a : a.dup('c');
    return c.offset() != 0 || c.data().length() != c.length() ? c.dup('c') : c;
  }

  /**
   * Frees {@code copy} when {@link #plain} made it for {@code original} (a kernel's temporary: left to the collector,
   * such copies piled up to gigabytes over many calls, since Graft no longer forces collections).
   */
  static void releaseCopy(INDArray copy, INDArray original) {
    if (copy != null && copy != original) {
      io.graft.core.NativeMemory.release(copy);
    }
  }

  /**
   * One input of a primitive: the layout the primitive reads, and the reorders into it from the layouts arrays
   * arrive in (built on first use, one per source layout; none when they agree).
   */
  static final class Port {
    final dnnl_memory_desc_t md;
    private final java.util.Map<java.util.List<Long>, java.util.Optional<Reorder>> from = new java.util.HashMap<>();

    Port(dnnl_memory_desc_t md) {
      this.md = md;
    }

    /** The reorder from a dense array's layout into this port's, or null when the array can be read as it is. */
    Reorder from(INDArray a) {
      java.util.List<Long> key = java.util.Arrays.stream(strides(a)).boxed().toList();
      synchronized (this) {
        java.util.Optional<Reorder> r = from.get(key);
        if (r == null) {
          r = java.util.Optional.ofNullable(Reorder.between(md(a), md));
          from.put(key, r);
        }
        return r.orElse(null);
      }
    }

    /** Arena bytes reading {@code a} through this port takes (its reordered copy, if any). */
    long bytes(INDArray a) {
      return from(a) == null ? 0 : OneDnn.bytes(md);
    }

    /** The array's data as the primitive reads it: the array itself, or a reordered copy in the arena. */
    Pointer read(Arena arena, INDArray a) {
      Reorder r = from(a);
      if (r == null) {
        return address(a);
      }
      Pointer copy = arena.take(OneDnn.bytes(md));
      r.run(address(a), copy);
      return copy;
    }

    synchronized void destroy() {
      from.values().forEach(r -> r.ifPresent(Reorder::destroy));
      from.clear();
    }
  }

  /** Something built from oneDNN objects that must be destroyed explicitly (javacpp does not free them). */
  interface Destroyable {
    void destroy();
  }

  /**
   * Primitives by shape, bounded (each holds generated code): the least recently used go first, and are destroyed
   * once no thread still uses them. {@link #acquire} hands out a lease to close after the call.
   */
  static final class Cache<K, P extends Destroyable> {
    private final int max;
    private final java.util.function.Function<K, P> make;
    private final java.util.LinkedHashMap<K, Lease<P>> map = new java.util.LinkedHashMap<>(64, 0.75f, true);
    private final java.util.Set<K> refused = new java.util.HashSet<>();

    Cache(int max, java.util.function.Function<K, P> make) {
      this.max = max;
      this.make = make;
    }

    /**
     * Whether oneDNN has primitives for {@code key}: the plan is built (and kept) now, and {@code prepare} builds
     * the primitives the call will need beyond the plan's own. A refusal ({@link Unsupported}) is remembered, so a
     * shape is tried once (at most {@code max} refused keys are kept; beyond that they are forgotten and tried
     * again).
     */
    boolean supports(K key, java.util.function.Consumer<P> prepare) {
      synchronized (this) {
        if (refused.contains(key)) {
          return false;
        }
      }
      try (Lease<P> lease = acquire(key)) {
        prepare.accept(lease.plan());
        return true;
      } catch (Unsupported e) {
        synchronized (this) {
          if (refused.size() >= max) {
            refused.clear();
          }
          refused.add(key);
        }
        LOG.log(System.Logger.Level.DEBUG, "Graft: " + e.getMessage() + "; libnd4j's kernels run " + key);
        return false;
      }
    }

    /** Whether oneDNN refused {@code key} (see {@link #supports}). */
    synchronized boolean refused(K key) {
      return refused.contains(key);
    }

    Lease<P> acquire(K key) {
      synchronized (this) {
        Lease<P> l = map.get(key);
        if (l == null) {
          l = new Lease<>(this, make.apply(key));
          map.put(key, l);
          if (map.size() > max) {
            java.util.Iterator<Lease<P>> it = map.values().iterator();
            Lease<P> old = it.next();
            it.remove();
            old.evicted = true;
            if (old.users == 0) {
              old.plan.destroy();
            }
          }
        }
        l.users++;
        return l;
      }
    }
  }

  /** A cached plan in use; closing it lets the cache destroy the plan once evicted. */
  static final class Lease<P extends Destroyable> implements AutoCloseable {
    private final Cache<?, P> cache;
    private final P plan;
    private int users;
    private boolean evicted;

    private Lease(Cache<?, P> cache, P plan) {
      this.cache = cache;
      this.plan = plan;
    }

    P plan() {
      return plan;
    }

    @Override
    public void close() {
      synchronized (cache) {
        users--;
        if (evicted && users == 0) {
          plan.destroy();
        }
      }
    }
  }

  /**
   * Per-thread scratch memory, grown on demand and never shrunk: reordered copies of a call's arrays and oneDNN's
   * scratchpad. Regions are handed out from the start on every {@link #reset}; a call uses them and is done before
   * the next call on the same thread, so no region outlives its call. Reusing the pages spares the page faults a
   * fresh allocation costs on every call.
   */
  static final class Arena {
    private BytePointer base;
    private long capacity;
    private long used;
    private long limit;

    /** Starts a call that will take regions of at most {@code total} bytes (each rounded up to 64 bytes). */
    Arena reset(long total) {
      long need = total + ALIGN;
      if (need > capacity) {
        if (base != null) {
          base.deallocate();
        }
        capacity = Math.max(need, capacity + capacity / 4);
        base = new BytePointer(capacity);
        if (base.isNull()) {
          base = null;
          capacity = 0;
          throw new GraftException("oneDNN: could not allocate " + need + " bytes of scratch memory");
        }
      }
      used = (ALIGN - base.address() % ALIGN) % ALIGN;
      limit = need;
      return this;
    }

    /** A 64-byte aligned region of {@code bytes}. */
    Pointer take(long bytes) {
      long at = used;
      long end = at + (bytes + ALIGN - 1) / ALIGN * ALIGN;
      if (end > limit) {
        throw new IllegalStateException("oneDNN arena overrun: " + end + " > " + limit);
      }
      used = end;
      return new BytePointer(base).position(at);
    }

    static long rounded(long bytes) {
      return (bytes + ALIGN - 1) / ALIGN * ALIGN;
    }
  }
}
