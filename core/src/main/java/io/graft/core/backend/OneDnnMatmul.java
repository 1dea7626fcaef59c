package io.graft.core.backend;

import io.graft.core.NativeMemory;
import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.dnnl.dnnl_matmul_desc_t;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SCRATCHPAD;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_matmul_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_init_by_strides;
import static org.bytedeco.dnnl.global.dnnl.dnnl_success;

/**
 * Float32 batched matrix products {@code (*, m, k) · (*, k, n)} (the same leading dimensions on both sides) as one
 * oneDNN matmul primitive (see {@link OneDnn}), reading each operand in place through its strides: a transposed view
 * ({@code kᵀ} in attention) or the heads of a permuted projection need no copy, and the whole batch is one parallel
 * call. libnd4j's batched {@code matmul} ran the attention products of ViT-B/16 about eight times slower per
 * floating-point operation than its large 2-D products.
 *
 * <p>A layout oneDNN has only its reference kernel for counts as unsupported; then the operands are copied to C
 * order (a layout its GEMM kernels always take). The output is a new C-ordered array.
 */
final class OneDnnMatmul {
  /** Plans kept (each holds generated code): a ViT has a handful of shapes and layouts per direction. */
  static final int MAX_PLANS = 64;
  private static final OneDnn.Cache<Key, Plan> PLANS = new OneDnn.Cache<>(MAX_PLANS, Plan::new);

  private OneDnnMatmul() {}

  /** Everything that selects a primitive: the operands' dims and (canonical) strides. */
  record Key(List<Long> aDims, List<Long> aStrides, List<Long> bDims, List<Long> bStrides) {}

  /**
   * Whether the operands are a batched product this class computes: float32, the same rank from 3 to 12, the same
   * leading dimensions, matching inner sizes, nothing empty, and no zero or negative stride (a broadcast view).
   */
  static boolean takes(INDArray a, INDArray b) {
    if (!OneDnn.usable(a, b) || a.rank() != b.rank() || a.rank() < 3 || a.rank() > 12 || a.length() == 0
        || b.length() == 0) {
      return false;
    }
    int r = a.rank();
    for (int i = 0; i < r - 2; i++) {
      if (a.size(i) != b.size(i)) {
        return false;
      }
    }
    return a.size(r - 1) == b.size(r - 2) && stridesOk(a) && stridesOk(b);
  }

  private static boolean stridesOk(INDArray x) {
    for (int i = 0; i < x.rank(); i++) {
      if (x.size(i) > 1 && x.stride(i) <= 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether oneDNN runs {@code a · b} (which {@link #takes}), and with {@code backward} the C-ordered products of
   * its backward too ({@code g · bᵀ}, {@code aᵀ · g}); the plans are built now.
   */
  static boolean supports(INDArray a, INDArray b, boolean backward) {
    if (!takes(a, b)) {
      return false;
    }
    if (!PLANS.supports(key(a, b), p -> { }) && !PLANS.supports(plainKey(a.shape(), b.shape()), p -> { })) {
      return false;
    }
    if (!backward) {
      return true;
    }
    int r = a.rank();
    long[] g = a.shape().clone();
    g[r - 1] = b.size(r - 1);
    return PLANS.supports(plainKey(g, swapLast(b.shape())), p -> { })
        && PLANS.supports(plainKey(swapLast(a.shape()), g), p -> { });
  }

  /** {@code a · b} into a new C-ordered array, for operands {@link #takes} accepts. */
  static INDArray multiply(INDArray a, INDArray b) {
    Key k = key(a, b);
    INDArray ap = a;
    INDArray bp = b;
    if (PLANS.refused(k) || !PLANS.supports(k, p -> { })) {
      ap = OneDnn.plain(a);
      bp = OneDnn.plain(b);
      k = key(ap, bp);
    }
    int r = a.rank();
    long[] outShape = a.shape().clone();
    outShape[r - 1] = b.size(r - 1);
    INDArray out = NativeMemory.uninitialized(DataType.FLOAT, outShape);
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(k)) {
      Plan p = lease.plan();
      OneDnn.Arena arena = OneDnn.arena().reset(OneDnn.bytes(p.prim.scratch));
      OneDnn.execute(p.prim.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD},
          new dnnl_memory_desc_t[] {p.a, p.b, p.c, p.prim.scratch},
          new Pointer[] {at(ap), at(bp), OneDnn.address(out), p.prim.scratch(arena)});
      return out;
    } finally {
      Reference.reachabilityFence(ap);
      Reference.reachabilityFence(bp);
      OneDnn.releaseCopy(ap, a);
      OneDnn.releaseCopy(bp, b);
    }
  }

  /** The address of an array's first element (its buffer's start plus its offset). */
  private static Pointer at(INDArray x) {
    Pointer base = x.data().pointer();
    long first = base.address() + (base.position() + x.offset()) * Float.BYTES;
    return new Pointer() {
      {
        address = first;   // (a local named address would be shadowed by the field)
      }
    };
  }

  private static long[] swapLast(long[] s) {
    long[] t = s.clone();
    t[s.length - 1] = s[s.length - 2];
    t[s.length - 2] = s[s.length - 1];
    return t;
  }

  private static Key key(INDArray a, INDArray b) {
    return new Key(list(a.shape()), list(canonicalStrides(a)), list(b.shape()), list(canonicalStrides(b)));
  }

  private static Key plainKey(long[] a, long[] b) {
    return new Key(list(a), list(OneDnn.cStrides(a)), list(b), list(OneDnn.cStrides(b)));
  }

  /** The array's strides, those of size-1 dimensions (which mean nothing) set as in C order. */
  private static long[] canonicalStrides(INDArray x) {
    long[] s = x.stride().clone();
    long[] shape = x.shape();
    for (int i = s.length - 1; i >= 0; i--) {
      if (shape[i] == 1) {
        s[i] = i == s.length - 1 ? 1 : s[i + 1] * shape[i + 1];
      }
    }
    return s;
  }

  private static List<Long> list(long[] v) {
    return Arrays.stream(v).boxed().toList();
  }

  private static long[] array(List<Long> v) {
    return v.stream().mapToLong(Long::longValue).toArray();
  }

  private static dnnl_memory_desc_t strided(long[] dims, long[] strides) {
    dnnl_memory_desc_t m = new dnnl_memory_desc_t();
    if (dnnl_memory_desc_init_by_strides(m, dims.length, dims, dnnl_f32, strides) != dnnl_success) {
      throw new OneDnn.Unsupported("oneDNN takes no memory of dims " + Arrays.toString(dims) + " and strides "
          + Arrays.toString(strides));
    }
    return m;
  }

  private static final class Plan implements OneDnn.Destroyable {
    final dnnl_memory_desc_t a;
    final dnnl_memory_desc_t b;
    final dnnl_memory_desc_t c;
    final OneDnn.Primitive prim;

    Plan(Key k) {
      long[] ad = array(k.aDims());
      long[] bd = array(k.bDims());
      long[] cd = ad.clone();
      cd[cd.length - 1] = bd[bd.length - 1];
      a = strided(ad, array(k.aStrides()));
      b = strided(bd, array(k.bStrides()));
      c = strided(cd, OneDnn.cStrides(cd));
      dnnl_matmul_desc_t d = new dnnl_matmul_desc_t();
      if (dnnl_matmul_desc_init(d, a, b, null, c) != dnnl_success) {
        throw new OneDnn.Unsupported("oneDNN has no matmul for " + k);
      }
      OneDnn.Primitive p = new OneDnn.Primitive(d, null, "matmul");
      if (OneDnn.implementation(p.pd).startsWith("ref")) {
        p.destroy(); // oneDNN's reference loops: slower than a copy to C order and its GEMM kernels
        throw new OneDnn.Unsupported("oneDNN has only its reference matmul for " + k);
      }
      prim = p;
    }

    @Override
    public void destroy() {
      prim.destroy();
    }
  }
}
