package io.graft.core.ops;

import io.graft.core.NativeMemory;
import java.lang.ref.Reference;
import org.bytedeco.dnnl.dnnl_batch_normalization_desc_t;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_desc;
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
import static org.bytedeco.dnnl.global.dnnl.dnnl_backward;
import static org.bytedeco.dnnl.global.dnnl.dnnl_backward_data;
import static org.bytedeco.dnnl.global.dnnl.dnnl_batch_normalization_backward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_batch_normalization_forward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nchw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_use_scale;
import static org.bytedeco.dnnl.global.dnnl.dnnl_use_shift;
import static org.bytedeco.dnnl.global.dnnl.dnnl_x;

/**
 * Float32 batch normalisation with batch statistics (training) on oneDNN's primitive (see {@link OneDnn}): one
 * vectorised pass for the statistics and one for the output forward, and the backward's reductions and output in
 * two more — where the libnd4j composition in {@link NormOps} takes two reductions and two passes each way through
 * separate ND4J calls. Input {@code (N, C, ...)} runs as {@code (N, C, L)}: the trailing dimensions are one axis
 * to a per-channel normalisation.
 */
final class OneDnnBatchNorm {
  private static final OneDnn.Cache<Key, Plan> PLANS = new OneDnn.Cache<>(OneDnnConv.MAX_PLANS, Plan::new);

  private OneDnnBatchNorm() {}

  /** Everything that selects a primitive; {@code eps} as float bits. */
  record Key(long n, long c, long l, boolean scale, boolean shift, int eps) {}

  private static Key key(INDArray x, boolean scale, boolean shift, double eps) {
    long[] s = x.shape();
    return new Key(s[0], s[1], x.length() / (s[0] * s[1]), scale, shift, Float.floatToIntBits((float) eps));
  }

  /**
   * {@code {y, mean, var}}: y = (x - mean) / sqrt(var + eps) * weight + bias with the batch's mean and biased
   * variance per channel ({@code (C)} each). {@code weight} and {@code bias} may be null.
   *
   * @throws OneDnn.Unsupported when oneDNN has no primitive for the shape (then nothing has been computed)
   */
  static INDArray[] forward(INDArray x, INDArray weight, INDArray bias, double eps, boolean backward) {
    INDArray xp = OneDnn.plain(x);
    INDArray wp = weight == null ? null : OneDnn.plain(weight);
    INDArray bp = bias == null ? null : OneDnn.plain(bias);
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(key(xp, weight != null, bias != null, eps))) {
      Plan p = lease.plan();
      if (backward) {
        p.backward(); // built now: a shape oneDNN cannot run fails here, never in the backward pass
      }
      INDArray y = NativeMemory.uninitialized(DataType.FLOAT, xp.shape());
      INDArray mean = NativeMemory.uninitialized(DataType.FLOAT, p.c);
      INDArray var = NativeMemory.uninitialized(DataType.FLOAT, p.c);
      OneDnn.Arena arena = OneDnn.arena().reset(OneDnn.bytes(p.fwdScratch));
      OneDnn.execute(p.fwd, new int[] {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_SCALE,
          DNNL_ARG_SHIFT, DNNL_ARG_SCRATCHPAD}, new dnnl_memory_desc_t[] {p.data, p.data, p.stat, p.stat,
          weight == null ? null : p.stat, bias == null ? null : p.stat, p.fwdScratch}, new Pointer[] {
          OneDnn.address(xp), OneDnn.address(y), OneDnn.address(mean), OneDnn.address(var),
          wp == null ? null : OneDnn.address(wp), bp == null ? null : OneDnn.address(bp),
          p.fwdScratch == null ? null : arena.take(OneDnn.bytes(p.fwdScratch))});
      return new INDArray[] {y, mean, var};
    } finally {
      // only raw addresses reach oneDNN: keep the (possibly copied) arrays alive until it is done with them
      Reference.reachabilityFence(xp);
      Reference.reachabilityFence(wp);
      Reference.reachabilityFence(bp);
    }
  }

  /**
   * {@code {dx, dweight, dbias}} of {@link #forward} (the parameter gradients only when the parameter is given).
   * {@code mean} and {@code var} are the forward's.
   */
  static INDArray[] backward(INDArray x, INDArray g, INDArray mean, INDArray var, INDArray weight, INDArray bias,
      double eps) {
    INDArray xp = OneDnn.plain(x);
    INDArray gp = OneDnn.plain(g);
    INDArray mp = OneDnn.plain(mean);
    INDArray vp = OneDnn.plain(var);
    INDArray wp = weight == null ? null : OneDnn.plain(weight);
    INDArray bp = bias == null ? null : OneDnn.plain(bias);
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(key(xp, weight != null, bias != null, eps))) {
      Plan p = lease.plan();
      Plan.Backward b = p.backward();
      INDArray dx = NativeMemory.uninitialized(DataType.FLOAT, xp.shape());
      INDArray dw = weight == null ? null : NativeMemory.uninitialized(DataType.FLOAT, p.c);
      INDArray db = bias != null ? NativeMemory.uninitialized(DataType.FLOAT, p.c) : null;
      OneDnn.Arena arena = OneDnn.arena().reset(OneDnn.bytes(b.scratch));
      OneDnn.execute(b.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE,
          DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_SCALE, DNNL_ARG_DIFF_SHIFT,
          DNNL_ARG_SCRATCHPAD}, new dnnl_memory_desc_t[] {p.data, p.data, p.stat, p.stat,
          weight == null ? null : p.stat, bias == null ? null : p.stat, p.data,
          dw == null ? null : p.stat, db == null ? null : p.stat, b.scratch}, new Pointer[] {OneDnn.address(xp),
          OneDnn.address(gp), OneDnn.address(mp), OneDnn.address(vp), wp == null ? null : OneDnn.address(wp),
          bp == null ? null : OneDnn.address(bp), OneDnn.address(dx),
          dw == null ? null : OneDnn.address(dw), db == null ? null : OneDnn.address(db),
          b.scratch == null ? null : arena.take(OneDnn.bytes(b.scratch))});
      return new INDArray[] {dx, dw, db};
    } finally {
      Reference.reachabilityFence(xp);
      Reference.reachabilityFence(gp);
      Reference.reachabilityFence(mp);
      Reference.reachabilityFence(vp);
      Reference.reachabilityFence(wp);
      Reference.reachabilityFence(bp);
    }
  }

  private static final class Plan implements OneDnn.Destroyable {
    final long c;
    final dnnl_memory_desc_t data;
    final dnnl_memory_desc_t stat;
    final int flags;
    final float eps;
    final dnnl_primitive_desc fwdPd;
    final dnnl_primitive fwd;
    final dnnl_memory_desc_t fwdScratch;
    private Backward backward;

    Plan(Key k) {
      c = k.c();
      data = OneDnn.md(new long[] {k.n(), k.c(), k.l(), 1}, dnnl_nchw);
      stat = OneDnn.md(new long[] {k.c()}, dnnl_x);
      flags = (k.scale() ? dnnl_use_scale : 0) | (k.shift() ? dnnl_use_shift : 0);
      eps = Float.intBitsToFloat(k.eps());
      dnnl_batch_normalization_desc_t d = new dnnl_batch_normalization_desc_t();
      OneDnn.check(dnnl_batch_normalization_forward_desc_init(d, dnnl_forward_training, data, eps, flags),
          "batch_normalization_forward_desc_init");
      fwdPd = OneDnn.primitiveDesc(d, null, "batch normalization forward");
      fwd = OneDnn.primitive(fwdPd, "batch normalization forward");
      fwdScratch = OneDnn.scratchpad(fwdPd);
    }

    Backward backward() {
      synchronized (this) {
        if (backward == null) {
          backward = new Backward();
        }
        return backward;
      }
    }

    @Override
    public void destroy() {
      synchronized (this) {
        if (backward != null) {
          OneDnn.destroy(backward.primitive);
          OneDnn.destroy(backward.pd);
        }
        OneDnn.destroy(fwd);
        OneDnn.destroy(fwdPd);
      }
    }

    final class Backward {
      final dnnl_primitive_desc pd;
      final dnnl_primitive primitive;
      final dnnl_memory_desc_t scratch;

      Backward() {
        dnnl_batch_normalization_desc_t d = new dnnl_batch_normalization_desc_t();
        // dnnl_backward also yields the scale and shift gradients; without parameters there are none to yield
        OneDnn.check(dnnl_batch_normalization_backward_desc_init(d, flags == 0 ? dnnl_backward_data : dnnl_backward,
            data, data, eps, flags), "batch_normalization_backward_desc_init");
        pd = OneDnn.primitiveDesc(d, fwdPd, "batch normalization backward");
        primitive = OneDnn.primitive(pd, "batch normalization backward");
        scratch = OneDnn.scratchpad(pd);
      }
    }
  }
}
