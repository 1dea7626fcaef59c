package io.graft.core.backend;

import io.graft.core.NativeMemory;
import java.lang.ref.Reference;
import org.bytedeco.dnnl.dnnl_layer_normalization_desc_t;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SCALE;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SHIFT;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_MEAN;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SCALE;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SCRATCHPAD;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SHIFT;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_VARIANCE;
import static org.bytedeco.dnnl.global.dnnl.dnnl_ab;
import static org.bytedeco.dnnl.global.dnnl.dnnl_backward;
import static org.bytedeco.dnnl.global.dnnl.dnnl_backward_data;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_layer_normalization_backward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_layer_normalization_forward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_success;
import static org.bytedeco.dnnl.global.dnnl.dnnl_use_scale;
import static org.bytedeco.dnnl.global.dnnl.dnnl_use_shift;
import static org.bytedeco.dnnl.global.dnnl.dnnl_x;

/**
 * Float32 layer normalisation of {@code (M, D)} rows (each row by its own mean and biased variance) on oneDNN's
 * layer_normalization primitives (see {@link OneDnn}): one pass forward (keeping mean and variance) and one backward
 * pass for the input, scale and shift gradients, where the composed form made about eight and ten passes with
 * libnd4j's transforms.
 */
final class OneDnnLayerNorm {
  static final int MAX_PLANS = 32;
  private static final OneDnn.Cache<Key, Plan> PLANS = new OneDnn.Cache<>(MAX_PLANS, Plan::new);

  private OneDnnLayerNorm() {}

  /** Everything that selects a primitive: rows, row length, affine parts and eps (its float32 bits). */
  record Key(long m, long d, boolean scale, boolean shift, int eps) {}

  private static Key key(long m, long d, boolean scale, boolean shift, double eps) {
    return new Key(m, d, scale, shift, Float.floatToIntBits((float) eps));
  }

  private static final java.util.function.Consumer<Plan> TRAINING = Plan::backward;

  /** Whether oneDNN normalises these rows (and, with {@code backward}, has the backward too); plans built now. */
  static boolean supports(long m, long d, boolean scale, boolean shift, double eps, boolean backward) {
    return PLANS.supports(key(m, d, scale, shift, eps), backward ? TRAINING : p -> { });
  }

  /** {@code {y, mean, var}} of C-ordered {@code x (M, D)}; weight and bias {@code (D)} or null. */
  static INDArray[] forward(INDArray x, INDArray weight, INDArray bias, double eps) {
    INDArray xp = OneDnn.plain(x);
    INDArray wp = weight == null ? null : OneDnn.plain(weight);
    INDArray bp = bias == null ? null : OneDnn.plain(bias);
    long m = xp.size(0);
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(key(m, xp.size(1), wp != null, bp != null, eps))) {
      Plan p = lease.plan();
      INDArray y = NativeMemory.uninitialized(DataType.FLOAT, xp.shape());
      INDArray mean = NativeMemory.uninitialized(DataType.FLOAT, m);
      INDArray var = NativeMemory.uninitialized(DataType.FLOAT, m);
      OneDnn.Arena arena = OneDnn.arena().reset(OneDnn.bytes(p.fwd.scratch));
      OneDnn.execute(p.fwd.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE,
          DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_SCRATCHPAD}, new dnnl_memory_desc_t[] {p.data, p.data, p.stat,
          p.stat, wp == null ? null : p.param, bp == null ? null : p.param, p.fwd.scratch}, new Pointer[] {
          OneDnn.address(xp), OneDnn.address(y), OneDnn.address(mean), OneDnn.address(var),
          wp == null ? null : OneDnn.address(wp), bp == null ? null : OneDnn.address(bp), p.fwd.scratch(arena)});
      return new INDArray[] {y, mean, var};
    } finally {
      Reference.reachabilityFence(xp);
      Reference.reachabilityFence(wp);
      Reference.reachabilityFence(bp);
      OneDnn.releaseCopy(xp, x);
      OneDnn.releaseCopy(wp, weight);
      OneDnn.releaseCopy(bp, bias);
    }
  }

  /**
   * {@code {dx, dweight, dbias}} of {@link #forward} for the output gradient {@code g (M, D)}, the parameter
   * gradients only for the parameters given; {@code mean} and {@code var} are the forward's.
   */
  static INDArray[] backward(INDArray x, INDArray g, INDArray mean, INDArray var, INDArray weight, INDArray bias,
      double eps) {
    INDArray xp = OneDnn.plain(x);
    INDArray gp = OneDnn.plain(g);
    INDArray wp = weight == null ? null : OneDnn.plain(weight);
    INDArray bp = bias == null ? null : OneDnn.plain(bias);
    long d = xp.size(1);
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(key(xp.size(0), d, wp != null, bp != null, eps))) {
      Plan p = lease.plan();
      OneDnn.Primitive b = p.backward();
      INDArray dx = NativeMemory.uninitialized(DataType.FLOAT, xp.shape());
      INDArray dw = wp == null ? null : NativeMemory.uninitialized(DataType.FLOAT, d);
      INDArray db = bp == null ? null : NativeMemory.uninitialized(DataType.FLOAT, d);
      OneDnn.Arena arena = OneDnn.arena().reset(OneDnn.bytes(b.scratch));
      OneDnn.execute(b.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE,
          DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_SCALE, DNNL_ARG_DIFF_SHIFT,
          DNNL_ARG_SCRATCHPAD}, new dnnl_memory_desc_t[] {p.data, p.data, p.stat, p.stat,
          wp == null ? null : p.param, bp == null ? null : p.param, p.data, dw == null ? null : p.param,
          db == null ? null : p.param, b.scratch}, new Pointer[] {OneDnn.address(xp), OneDnn.address(gp),
          OneDnn.address(mean), OneDnn.address(var), wp == null ? null : OneDnn.address(wp),
          bp == null ? null : OneDnn.address(bp), OneDnn.address(dx), dw == null ? null : OneDnn.address(dw),
          db == null ? null : OneDnn.address(db), b.scratch(arena)});
      return new INDArray[] {dx, dw, db};
    } finally {
      Reference.reachabilityFence(xp);
      Reference.reachabilityFence(gp);
      Reference.reachabilityFence(mean);
      Reference.reachabilityFence(var);
      Reference.reachabilityFence(wp);
      Reference.reachabilityFence(bp);
      OneDnn.releaseCopy(xp, x);
      OneDnn.releaseCopy(gp, g);
      OneDnn.releaseCopy(wp, weight);
      OneDnn.releaseCopy(bp, bias);
    }
  }

  private static final class Plan implements OneDnn.Destroyable {
    final dnnl_memory_desc_t data;
    final dnnl_memory_desc_t stat;
    final dnnl_memory_desc_t param;
    final int flags;
    final float eps;
    final OneDnn.Primitive fwd;
    private final OneDnn.Later backward = new OneDnn.Later(this::buildBackward);

    Plan(Key k) {
      data = OneDnn.md(new long[] {k.m(), k.d()}, dnnl_ab);
      stat = OneDnn.md(new long[] {k.m()}, dnnl_x);
      param = OneDnn.md(new long[] {k.d()}, dnnl_x);
      flags = (k.scale() ? dnnl_use_scale : 0) | (k.shift() ? dnnl_use_shift : 0);
      eps = Float.intBitsToFloat(k.eps());
      dnnl_layer_normalization_desc_t d = new dnnl_layer_normalization_desc_t();
      if (dnnl_layer_normalization_forward_desc_init(d, dnnl_forward_training, data, stat, eps, flags)
          != dnnl_success) {
        throw new OneDnn.Unsupported("oneDNN has no layer normalization for " + k);
      }
      fwd = new OneDnn.Primitive(d, null, "layer normalization forward");
    }

    OneDnn.Primitive backward() {
      return backward.get();
    }

    private OneDnn.Primitive buildBackward() {
      dnnl_layer_normalization_desc_t d = new dnnl_layer_normalization_desc_t();
      int kind = flags == 0 ? dnnl_backward_data : dnnl_backward;
      if (dnnl_layer_normalization_backward_desc_init(d, kind, data, data, stat, eps, flags) != dnnl_success) {
        throw new OneDnn.Unsupported("oneDNN has no layer normalization backward for flags " + flags);
      }
      return new OneDnn.Primitive(d, fwd.pd, "layer normalization backward");
    }

    @Override
    public void destroy() {
      backward.destroy();
      fwd.destroy();
    }
  }
}
