package io.graft.core.backend;

import io.graft.core.Layout;
import io.graft.core.NativeMemory;
import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.dnnl.dnnl_batch_normalization_desc_t;
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
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WORKSPACE;
import static org.bytedeco.dnnl.global.dnnl.dnnl_backward;
import static org.bytedeco.dnnl.global.dnnl.dnnl_backward_data;
import static org.bytedeco.dnnl.global.dnnl.dnnl_batch_normalization_backward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_batch_normalization_forward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_fuse_norm_relu;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_init_by_strides;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_workspace_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_use_global_stats;
import static org.bytedeco.dnnl.global.dnnl.dnnl_use_scale;
import static org.bytedeco.dnnl.global.dnnl.dnnl_use_shift;
import static org.bytedeco.dnnl.global.dnnl.dnnl_x;

/**
 * Float32 batch normalisation on oneDNN's primitive (see {@link OneDnn}), with batch statistics (training) or given
 * ones (running statistics): one vectorised pass for the statistics and one for the output forward, and the
 * backward's reductions and output in two more — where the libnd4j composition ({@link Libnd4jBatchNorm}) takes two
 * reductions and two passes each way through separate ND4J calls. A 4-D input runs in its own dense layout
 * (channels_last after Graft's convolutions, where oneDNN's kernels are JIT-compiled and vectorised); other inputs
 * {@code (N, C, ...)} run as C-ordered {@code (N, C, L, 1)}: the trailing dimensions are one axis to a per-channel
 * normalisation (described as 3-D, oneDNN picks a far slower reference kernel).
 */
final class OneDnnBatchNorm {
  private static final OneDnn.Cache<Key, Plan> PLANS = new OneDnn.Cache<>(OneDnnConv.MAX_PLANS, Plan::new);

  private OneDnnBatchNorm() {}

  /**
   * Everything that selects a primitive: the data's 4-D dims and strides, the parameters present, whether the
   * statistics are given ({@code global}), {@code eps} as float bits, and whether a ReLU follows in the same pass.
   */
  record Key(List<Long> dims, List<Long> strides, boolean scale, boolean shift, boolean global, int eps,
      boolean relu) {}

  /** The input as oneDNN reads it: itself if 4-D and dense, else a C-ordered array described as (N, C, L, 1). */
  private static INDArray data(INDArray x) {
    return x.rank() == 4 ? OneDnn.dense(x) : OneDnn.plain(x);
  }

  /**
   * The key of the call on {@code x} as {@link #data} will present it, computed without copying it: a 4-D dense
   * array's own strides, else C order.
   */
  private static Key key(INDArray x, boolean scale, boolean shift, boolean global, double eps, boolean relu) {
    long[] s = x.shape();
    long[] dims = x.rank() == 4 ? s : new long[] {s[0], s[1], x.length() / (s[0] * s[1]), 1};
    boolean asIs = x.rank() == 4 && x.offset() == 0 && x.data().length() == x.length() && Layout.order(x) != null;
    long[] strides = asIs ? OneDnn.strides(x) : OneDnn.cStrides(dims);
    return new Key(boxed(dims), boxed(strides), scale, shift, global, Float.floatToIntBits((float) eps), relu);
  }

  private static final java.util.function.Consumer<Plan> FORWARD = p -> { };
  private static final java.util.function.Consumer<Plan> TRAINING = Plan::backward;

  /**
   * Whether oneDNN has primitives for this batch normalisation of {@code x} (and its backward with
   * {@code backward}); with {@code relu}, no when the fused ReLU would keep no mask for the backward.
   */
  static boolean supports(INDArray x, boolean scale, boolean shift, boolean global, double eps, boolean backward,
      boolean relu) {
    return PLANS.supports(key(x, scale, shift, global, eps, relu), backward ? TRAINING : FORWARD);
  }

  private static List<Long> boxed(long[] a) {
    return Arrays.stream(a).boxed().toList();
  }

  /**
   * {@code {y, mean, var, workspace}}: y = (x - mean) / sqrt(var + eps) * weight + bias, y laid out like x. With
   * {@code mean} and {@code var} null they are the batch's (mean and biased variance per channel, returned as
   * {@code (C)} each), else the given ones (returned as given). {@code weight} and {@code bias} may be null. With
   * {@code relu}, y = max(y, 0) in the same pass (oneDNN's fused ReLU, which turns NaN into 0), and the workspace
   * (its mask, for {@link #backward}) is returned; else it is null. For a call {@link #supports} said yes to.
   */
  static INDArray[] forward(INDArray x, INDArray weight, INDArray bias, INDArray mean, INDArray var, double eps,
      boolean relu) {
    INDArray xp = data(x);
    INDArray wp = weight == null ? null : OneDnn.plain(weight);
    INDArray bp = bias == null ? null : OneDnn.plain(bias);
    boolean global = mean != null;
    INDArray mp = global ? OneDnn.plain(mean) : null;
    INDArray vp = global ? OneDnn.plain(var) : null;
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(key(xp, weight != null, bias != null, global, eps, relu))) {
      Plan p = lease.plan();
      INDArray y = Layout.uninitializedLike(xp, DataType.FLOAT);
      if (!global) {
        mp = NativeMemory.uninitialized(DataType.FLOAT, p.c);
        vp = NativeMemory.uninitialized(DataType.FLOAT, p.c);
      }
      INDArray ws = p.workspace == null ? null
          : NativeMemory.uninitialized(DataType.FLOAT, (OneDnn.bytes(p.workspace) + 3) / 4);
      OneDnn.Arena arena = OneDnn.arena().reset(OneDnn.bytes(p.fwd.scratch));
      OneDnn.execute(p.fwd.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_SCALE,
          DNNL_ARG_SHIFT, DNNL_ARG_WORKSPACE, DNNL_ARG_SCRATCHPAD}, new dnnl_memory_desc_t[] {p.data, p.data, p.stat,
          p.stat, weight == null ? null : p.stat, bias == null ? null : p.stat, p.workspace, p.fwd.scratch},
          new Pointer[] {OneDnn.address(xp), OneDnn.address(y), OneDnn.address(mp), OneDnn.address(vp),
          wp == null ? null : OneDnn.address(wp), bp == null ? null : OneDnn.address(bp),
          ws == null ? null : OneDnn.address(ws), p.fwd.scratch(arena)});
      return new INDArray[] {y, mp, vp, ws};
    } finally {
      // only raw addresses reach oneDNN: keep the (possibly copied) arrays alive until it is done with them
      Reference.reachabilityFence(xp);
      Reference.reachabilityFence(wp);
      Reference.reachabilityFence(bp);
      Reference.reachabilityFence(mp);
      Reference.reachabilityFence(vp);
    }
  }

  /**
   * {@code {dx, dweight, dbias}} of {@link #forward} (the parameter gradients only when the parameter is given).
   * {@code mean}, {@code var}, {@code relu} and {@code workspace} (the fused ReLU's mask) are the forward's;
   * {@code global} as there (then dx = g * weight / sqrt(var + eps)). {@code dx} is laid out like {@code x}.
   */
  static INDArray[] backward(INDArray x, INDArray g, INDArray mean, INDArray var, INDArray weight, INDArray bias,
      boolean global, double eps, boolean relu, INDArray workspace) {
    if (relu && workspace == null) {
      throw new IllegalArgumentException("batch norm backward: a fused ReLU needs the forward's workspace");
    }
    INDArray xp = data(x);
    INDArray gp = data(g);
    if (xp.rank() == 4 && !Layout.sameDense(xp, gp)) {
      gp = Layout.uninitializedLike(xp, DataType.FLOAT).assign(gp);  // the gradient in x's layout
    }
    INDArray mp = OneDnn.plain(mean);
    INDArray vp = OneDnn.plain(var);
    INDArray wp = weight == null ? null : OneDnn.plain(weight);
    INDArray bp = bias == null ? null : OneDnn.plain(bias);
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(key(xp, weight != null, bias != null, global, eps, relu))) {
      Plan p = lease.plan();
      OneDnn.Primitive b = p.backward();
      INDArray dx = Layout.uninitializedLike(xp, DataType.FLOAT);
      INDArray dw = weight == null ? null : NativeMemory.uninitialized(DataType.FLOAT, p.c);
      INDArray db = bias != null ? NativeMemory.uninitialized(DataType.FLOAT, p.c) : null;
      OneDnn.Arena arena = OneDnn.arena().reset(OneDnn.bytes(b.scratch));
      OneDnn.execute(b.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE,
          DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_WORKSPACE, DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_SCALE,
          DNNL_ARG_DIFF_SHIFT, DNNL_ARG_SCRATCHPAD}, new dnnl_memory_desc_t[] {p.data, p.data, p.stat, p.stat,
          weight == null ? null : p.stat, bias == null ? null : p.stat, p.workspace, p.data,
          dw == null ? null : p.stat, db == null ? null : p.stat, b.scratch}, new Pointer[] {OneDnn.address(xp),
          OneDnn.address(gp), OneDnn.address(mp), OneDnn.address(vp), wp == null ? null : OneDnn.address(wp),
          bp == null ? null : OneDnn.address(bp), workspace == null ? null : OneDnn.address(workspace),
          OneDnn.address(dx), dw == null ? null : OneDnn.address(dw), db == null ? null : OneDnn.address(db),
          b.scratch(arena)});
      return new INDArray[] {dx, dw, db};
    } finally {
      Reference.reachabilityFence(xp);
      Reference.reachabilityFence(gp);
      Reference.reachabilityFence(mp);
      Reference.reachabilityFence(vp);
      Reference.reachabilityFence(wp);
      Reference.reachabilityFence(bp);
      Reference.reachabilityFence(workspace);
    }
  }

  private static final class Plan implements OneDnn.Destroyable {
    final long c;
    final dnnl_memory_desc_t data;
    final dnnl_memory_desc_t stat;
    final int flags;
    final float eps;
    final OneDnn.Primitive fwd;
    /** The fused ReLU's mask (null without one). */
    final dnnl_memory_desc_t workspace;
    private final OneDnn.Later backward = new OneDnn.Later(this::buildBackward);

    Plan(Key k) {
      long[] dims = k.dims().stream().mapToLong(Long::longValue).toArray();
      long[] strides = k.strides().stream().mapToLong(Long::longValue).toArray();
      c = dims[1];
      data = new dnnl_memory_desc_t();
      OneDnn.check(dnnl_memory_desc_init_by_strides(data, 4, dims, dnnl_f32, strides), "memory_desc_init");
      stat = OneDnn.md(new long[] {c}, dnnl_x);
      flags = (k.scale() ? dnnl_use_scale : 0) | (k.shift() ? dnnl_use_shift : 0)
          | (k.global() ? dnnl_use_global_stats : 0) | (k.relu() ? dnnl_fuse_norm_relu : 0);
      eps = Float.intBitsToFloat(k.eps());
      dnnl_batch_normalization_desc_t d = new dnnl_batch_normalization_desc_t();
      OneDnn.check(dnnl_batch_normalization_forward_desc_init(d, dnnl_forward_training, data, eps, flags),
          "batch_normalization_forward_desc_init");
      fwd = new OneDnn.Primitive(d, null, "batch normalization forward");
      dnnl_memory_desc_t ws = k.relu() ? OneDnn.query(fwd.pd, dnnl_query_workspace_md) : null;
      workspace = ws == null || OneDnn.bytes(ws) == 0 ? null : ws;
      if (k.relu() && workspace == null) {   // the backward could not apply the ReLU: run the two ops apart
        fwd.destroy();
        throw new OneDnn.Unsupported("batch normalization with a fused ReLU keeps no workspace");
      }
    }

    OneDnn.Primitive backward() {
      return backward.get();
    }

    private OneDnn.Primitive buildBackward() {
      dnnl_batch_normalization_desc_t d = new dnnl_batch_normalization_desc_t();
      // dnnl_backward also yields the scale and shift gradients; without parameters there are none to yield
      int params = dnnl_use_scale | dnnl_use_shift;
      int kind = (flags & params) == 0 ? dnnl_backward_data : dnnl_backward;
      OneDnn.check(dnnl_batch_normalization_backward_desc_init(d, kind, data, data, eps, flags),
          "batch_normalization_backward_desc_init");
      return new OneDnn.Primitive(d, fwd.pd, "batch normalization backward");
    }

    @Override
    public void destroy() {
      backward.destroy();
      fwd.destroy();
    }
  }
}
