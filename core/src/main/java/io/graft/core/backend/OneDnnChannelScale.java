package io.graft.core.backend;

import io.graft.core.Layout;
import io.graft.core.NativeMemory;
import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.dnnl.dnnl_binary_desc_t;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SCRATCHPAD;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC_0;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC_1;
import static org.bytedeco.dnnl.global.dnnl.dnnl_binary_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_binary_mul;

/**
 * Float32 {@code y = x · s} of a 4-D {@code x (N, C, H, W)} by a per-sample, per-channel {@code s (N, C, 1, 1)}
 * (squeeze-and-excitation's gate) on oneDNN's binary primitive, and its backward: {@code dx = g · s} (the same
 * primitive) and {@code ds = Σ_{h,w} g · x} (binary, then libnd4j's sum over the positions). {@code x} dense
 * over its own buffer, channels_last or C order; {@code y} and {@code dx} are laid out like it, so
 * a channels_last activation stays channels_last (libnd4j's broadcast wrote C order, which the next convolution
 * reordered back).
 */
final class OneDnnChannelScale {
  private static final OneDnn.Cache<Key, Plan> PLANS = new OneDnn.Cache<>(OneDnnConv.MAX_PLANS, Plan::new);

  private OneDnnChannelScale() {}

  /** x's dims and strides (its layout), s's strides. */
  record Key(List<Long> dims, List<Long> xStrides, List<Long> sStrides) {}

  private static boolean flatOver(INDArray a) {
    return a.offset() == 0 && a.data().length() == a.length() && Layout.order(a) != null;
  }

  private static Key key(INDArray x, INDArray s) {
    return new Key(boxed(x.shape()), boxed(OneDnn.strides(x)), boxed(OneDnn.strides(s)));
  }

  private static List<Long> boxed(long[] a) {
    return Arrays.stream(a).boxed().toList();
  }

  private static final java.util.function.Consumer<Plan> FORWARD = p -> { };
  private static final java.util.function.Consumer<Plan> TRAINING = Plan::product;

  /** Whether oneDNN runs this product (and, with {@code backward}, its gradients): primitives built now. */
  static boolean supports(INDArray x, INDArray s, boolean backward) {
    if (!OneDnn.usable(x, s) || x.rank() != 4 || x.length() == 0 || !flatOver(x) || !flatOver(s)
        || !(Layout.isChannelsLast(x) || Layout.isCOrdered(x))) {
      return false;
    }
    long[] xs = x.shape();
    long[] ss = s.shape();
    if (!Arrays.equals(ss, new long[] {xs[0], xs[1], 1, 1})) {
      return false;
    }
    return PLANS.supports(key(x, s), backward ? TRAINING : FORWARD);
  }

  /** {@code x · s}, laid out like {@code x}. */
  static INDArray forward(INDArray x, INDArray s) {
    INDArray y = Layout.uninitializedLike(x, DataType.FLOAT);
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(key(x, s))) {
      lease.plan().multiply(x, s, y);
      return y;
    }
  }

  /** {@code {dx, ds}} for the output gradient {@code g}, each null unless asked for. */
  static INDArray[] backward(INDArray x, INDArray s, INDArray g, boolean needX, boolean needS) {
    INDArray gp = Layout.sameDense(x, g) && flatOver(g) && g.dataType() == DataType.FLOAT ? g
        : Layout.uninitializedLike(x, DataType.FLOAT).assign(g);
    INDArray[] r = new INDArray[2];
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(key(x, s))) {
      Plan p = lease.plan();
      if (needX) {
        r[0] = Layout.uninitializedLike(x, DataType.FLOAT);
        p.multiply(gp, s, r[0]);
      }
      if (needS) {
        // g · x in x's layout (g · 1 broadcast is not available: multiply by x, then sum over H and W)
        INDArray gx = Layout.uninitializedLike(x, DataType.FLOAT);
        OneDnn.Primitive m = p.product();
        OneDnn.Arena arena = OneDnn.arena().reset(OneDnn.bytes(m.scratch));
        OneDnn.execute(m.primitive, new int[] {DNNL_ARG_SRC_0, DNNL_ARG_SRC_1, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD},
            new dnnl_memory_desc_t[] {p.x, p.x, p.x, m.scratch},
            new Pointer[] {OneDnn.address(gp), OneDnn.address(x), OneDnn.address(gx), m.scratch(arena)});
        // the sum over H and W: oneDNN 2.5 has only its reference reduction for it (slow), libnd4j's over the
        // positions axis of the product's memory, (N, HW, C) channels_last or (N, C, HW) C order
        long[] xs = x.shape();
        INDArray flat = Layout.flat(gx);
        INDArray ds = Layout.isChannelsLast(x)
            ? flat.reshape('c', xs[0], xs[2] * xs[3], xs[1]).sum(1)
            : flat.reshape('c', xs[0], xs[1], xs[2] * xs[3]).sum(2);
        ds = ds.reshape('c', s.shape());
        NativeMemory.release(gx);
        r[1] = ds;
      }
      return r;
    } finally {
      Reference.reachabilityFence(gp);
      Reference.reachabilityFence(x);
    }
  }

  private static final class Plan implements OneDnn.Destroyable {
    final dnnl_memory_desc_t x;
    final dnnl_memory_desc_t s;
    final OneDnn.Primitive scale;
    private final OneDnn.Later product = new OneDnn.Later(this::buildProduct);

    Plan(Key k) {
      long[] dims = k.dims().stream().mapToLong(Long::longValue).toArray();
      long[] sDims = {dims[0], dims[1], 1, 1};
      x = strided(dims, k.xStrides());
      s = strided(sDims, k.sStrides());
      dnnl_binary_desc_t d = new dnnl_binary_desc_t();
      OneDnn.check(dnnl_binary_desc_init(d, dnnl_binary_mul, x, s, x), "binary_desc_init");
      scale = jitted(new OneDnn.Primitive(d, null, "binary mul (channel scale)"));
    }

    /**
     * The primitive, unless oneDNN only has its reference implementation for the shape (e.g. 8×32×112² channels_last
     * on AVX2: about 50 times slower than libnd4j's broadcast): then {@link OneDnn.Unsupported}, and the op composes.
     */
    private static OneDnn.Primitive jitted(OneDnn.Primitive p) {
      String impl = OneDnn.implementation(p.pd);
      if (impl.startsWith("ref")) {
        p.destroy();
        throw new OneDnn.Unsupported("oneDNN has only its reference binary kernel (" + impl + ") for this shape");
      }
      return p;
    }

    private static dnnl_memory_desc_t strided(long[] dims, List<Long> strides) {
      dnnl_memory_desc_t m = new dnnl_memory_desc_t();
      OneDnn.check(org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_init_by_strides(m, dims.length, dims,
          org.bytedeco.dnnl.global.dnnl.dnnl_f32, strides.stream().mapToLong(Long::longValue).toArray()),
          "memory_desc_init");
      return m;
    }

    /** {@code out = a · s}, {@code a} and {@code out} in x's layout. */
    void multiply(INDArray a, INDArray sv, INDArray out) {
      OneDnn.Arena arena = OneDnn.arena().reset(OneDnn.bytes(scale.scratch));
      try {
        OneDnn.execute(scale.primitive, new int[] {DNNL_ARG_SRC_0, DNNL_ARG_SRC_1, DNNL_ARG_DST,
            DNNL_ARG_SCRATCHPAD}, new dnnl_memory_desc_t[] {x, s, x, scale.scratch},
            new Pointer[] {OneDnn.address(a), OneDnn.address(sv), OneDnn.address(out), scale.scratch(arena)});
      } finally {
        Reference.reachabilityFence(a);
        Reference.reachabilityFence(sv);
      }
    }

    OneDnn.Primitive product() {
      return product.get();
    }

    private OneDnn.Primitive buildProduct() {
      dnnl_binary_desc_t d = new dnnl_binary_desc_t();
      OneDnn.check(dnnl_binary_desc_init(d, dnnl_binary_mul, x, x, x), "binary_desc_init");
      return jitted(new OneDnn.Primitive(d, null, "binary mul (channel scale gradient)"));
    }

    @Override
    public void destroy() {
      product.destroy();
      scale.destroy();
    }
  }
}
