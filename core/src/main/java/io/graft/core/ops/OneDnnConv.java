package io.graft.core.ops;

import io.graft.core.NativeMemory;
import java.lang.ref.Reference;
import io.graft.core.ops.ConvOps.Geometry;
import io.graft.core.ops.OneDnn.Arena;
import io.graft.core.ops.OneDnn.Reorder;
import org.bytedeco.dnnl.dnnl_convolution_desc_t;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SCRATCHPAD;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_direct;
import static org.bytedeco.dnnl.global.dnnl.dnnl_dilated_convolution_backward_data_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_dilated_convolution_backward_weights_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_dilated_convolution_forward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_format_tag_any;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_goihw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nchw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_oihw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_diff_dst_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_diff_src_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_diff_weights_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_dst_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_src_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_weights_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_x;

/**
 * Float32 2-D convolution — forward, input gradient, weight (and bias) gradient — on oneDNN's primitives (see
 * {@link OneDnn}). Any geometry {@link ConvOps} accepts: groups (depthwise included: PyTorch's
 * {@code (C_out, C_in / groups, kH, kW)} weight is oneDNN's {@code goihw}), dilation, unequal stride and padding.
 *
 * <p>Primitives are built once per shape (batch, channels, size, kernel, stride, padding, dilation, groups, bias)
 * and kept in a bounded cache; the layouts are oneDNN's choice ({@code format_tag::any}), with a reorder from and to
 * Graft's NCHW arrays only where the choice differs from it. Measured beside libnd4j at ResNet-18's shapes (batch 8,
 * 2 threads, reorders included; {@code tools/bench/dnnl_spike}): stem forward 7.0 against 36.2 ms, its weight
 * gradient 11.7 against 56.9 ms for {@code conv2d_bp}; 3×3 layers up to 1.8× faster.
 */
final class OneDnnConv {
  /** Distinct shapes whose primitives are kept (each holds generated code); the least recently used go first. */
  static final int MAX_PLANS = 256;
  private static final OneDnn.Cache<Key, Plan> PLANS = new OneDnn.Cache<>(MAX_PLANS, Plan::new);

  private OneDnnConv() {}

  /** Everything that selects a primitive. */
  record Key(long n, long cin, long h, long w, long cout, int groups, int kH, int kW, int sH, int sW, int pH, int pW,
      int dH, int dW, boolean bias) {

    static Key of(long[] xShape, Geometry geo, boolean bias) {
      return new Key(xShape[0], geo.cin(), xShape[2], xShape[3], geo.cout(), geo.groups(), geo.kH(), geo.kW(),
          geo.sH(), geo.sW(), geo.pH(), geo.pW(), geo.dH(), geo.dW(), bias);
    }
  }

  /**
   * y = conv2d(x, w) + b as a new C-ordered array. With {@code backward} the backward primitives are built now too,
   * so that a shape oneDNN cannot run fails here (the caller falls back to libnd4j), never in the backward pass.
   *
   * @throws OneDnn.Unsupported when oneDNN has no primitive for the shape
   */
  static INDArray forward(INDArray x, INDArray w, INDArray b, Geometry geo, boolean backward) {
    INDArray xp = OneDnn.plain(x);
    INDArray wp = OneDnn.plain(w);
    INDArray bp = b == null ? null : OneDnn.plain(b);
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(Key.of(xp.shape(), geo, b != null))) {
      Plan plan = lease.plan();
      Step f = plan.forward();
      if (backward) {
        plan.backwardData();
        plan.backwardWeights();
      }
      INDArray y = NativeMemory.uninitialized(DataType.FLOAT, plan.yDims);
      Arena arena = OneDnn.arena().reset(f.arenaBytes());
      Pointer src = in(arena, f.inA, xp);
      Pointer wei = in(arena, f.inB, wp);
      Pointer dst = out(arena, f, y);
      Pointer scratch = f.scratch == null ? null : arena.take(OneDnn.bytes(f.scratch));
      OneDnn.execute(f.primitive,
          new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD},
          new dnnl_memory_desc_t[] {f.a, f.b, bp == null ? null : plan.bPlain, f.out, f.scratch},
          new Pointer[] {src, wei, bp == null ? null : OneDnn.address(bp), dst, scratch});
      f.finish(dst, y);
      return y;
    } finally {
      // only raw addresses reach oneDNN: keep the (possibly copied) arrays alive until it is done with them
      Reference.reachabilityFence(xp);
      Reference.reachabilityFence(wp);
      Reference.reachabilityFence(bp);
    }
  }

  /**
   * The gradients of a convolution: {@code {dx, dw, db}}, each null unless asked for ({@code db} needs
   * {@code needW} and a bias: it comes out of the weight-gradient primitive). {@code x} is read only for the
   * weight gradient, {@code w} only for the input gradient.
   */
  static INDArray[] backward(INDArray x, INDArray w, INDArray g, long[] xShape, Geometry geo, boolean bias,
      boolean needX, boolean needW) {
    INDArray gp = OneDnn.plain(g);
    INDArray xp = needW ? OneDnn.plain(x) : null;
    INDArray wp = needX ? OneDnn.plain(w) : null;
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(Key.of(xShape, geo, bias))) {
      Plan plan = lease.plan();
      INDArray[] r = new INDArray[3];
      Step d = needX ? plan.backwardData() : null;
      Step bw = needW ? plan.backwardWeights() : null;
      // one reordered copy of the output gradient serves both primitives when they chose the same layout
      boolean shareG = d != null && bw != null && d.inA != null && bw.inB != null
          && OneDnn.same(d.inA.to, bw.inB.to);
      long total = 0;
      if (d != null) {
        total += d.arenaBytes();
      }
      if (bw != null) {
        total += bw.arenaBytes() - (shareG ? copyBytes(bw.inB) : 0);
      }
      Arena arena = OneDnn.arena().reset(total);
      Pointer gData = null;
      if (d != null) {
        gData = in(arena, d.inA, gp);
        Pointer wei = in(arena, d.inB, wp);
        INDArray dx = NativeMemory.uninitialized(DataType.FLOAT, xShape);
        Pointer diffSrc = out(arena, d, dx);
        Pointer scratch = d.scratch == null ? null : arena.take(OneDnn.bytes(d.scratch));
        OneDnn.execute(d.primitive, new int[] {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC,
            DNNL_ARG_SCRATCHPAD}, new dnnl_memory_desc_t[] {d.a, d.b, d.out, d.scratch},
            new Pointer[] {gData, wei, diffSrc, scratch});
        d.finish(diffSrc, dx);
        r[0] = dx;
      }
      if (bw != null) {
        Pointer src = in(arena, bw.inA, xp);
        Pointer diffDst = shareG ? gData : in(arena, bw.inB, gp);
        INDArray dw = NativeMemory.uninitialized(DataType.FLOAT, plan.wShape);
        INDArray db = bias ? NativeMemory.uninitialized(DataType.FLOAT, plan.bDims) : null;
        Pointer diffWei = out(arena, bw, dw);
        Pointer scratch = bw.scratch == null ? null : arena.take(OneDnn.bytes(bw.scratch));
        OneDnn.execute(bw.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS,
            DNNL_ARG_DIFF_BIAS, DNNL_ARG_SCRATCHPAD}, new dnnl_memory_desc_t[] {bw.a, bw.b, bw.out,
            bias ? plan.bPlain : null, bw.scratch},
            new Pointer[] {src, diffDst, diffWei, bias ? OneDnn.address(db) : null, scratch});
        bw.finish(diffWei, dw);
        r[1] = dw;
        r[2] = db;
      }
      return r;
    } finally {
      Reference.reachabilityFence(gp);
      Reference.reachabilityFence(xp);
      Reference.reachabilityFence(wp);
    }
  }

  /** The array's data as the primitive wants it: the array itself, or a reordered copy in the arena. */
  private static Pointer in(Arena arena, Reorder reorder, INDArray a) {
    if (reorder == null) {
      return OneDnn.address(a);
    }
    Pointer copy = arena.take(OneDnn.bytes(reorder.to));
    reorder.run(OneDnn.address(a), copy);
    return copy;
  }

  /** Where the primitive writes its output: the result array itself, or the arena when a reorder follows. */
  private static Pointer out(Arena arena, Step step, INDArray result) {
    return step.outReorder == null ? OneDnn.address(result) : arena.take(OneDnn.bytes(step.outReorder.from));
  }

  /** Arena bytes of a reorder's oneDNN-side copy (0 when no reorder runs). */
  private static long copyBytes(Reorder r) {
    if (r == null) {
      return 0;
    }
    // the oneDNN-side memory is the destination of an incoming reorder and the source of an outgoing one
    return Math.max(OneDnn.bytes(r.to), OneDnn.bytes(r.from));
  }

  /**
   * One primitive with two inputs and one output (forward: x, w → y; backward data: dy, w → dx; backward weights:
   * x, dy → dw): the layouts oneDNN chose for them and the reorders from and to Graft's plain arrays (null where
   * the layouts agree).
   */
  private static final class Step {
    final dnnl_primitive_desc pd;
    final dnnl_primitive primitive;
    final dnnl_memory_desc_t a;
    final dnnl_memory_desc_t b;
    final dnnl_memory_desc_t out;
    final dnnl_memory_desc_t scratch;
    final Reorder inA;
    final Reorder inB;
    final Reorder outReorder;

    Step(dnnl_primitive_desc pd, String what, int queryA, dnnl_memory_desc_t plainA, int queryB,
        dnnl_memory_desc_t plainB, int queryOut, dnnl_memory_desc_t plainOut) {
      this.pd = pd;
      primitive = OneDnn.primitive(pd, what);
      a = OneDnn.query(pd, queryA);
      b = OneDnn.query(pd, queryB);
      out = OneDnn.query(pd, queryOut);
      scratch = OneDnn.scratchpad(pd);
      inA = Reorder.between(plainA, a);
      inB = Reorder.between(plainB, b);
      outReorder = Reorder.between(out, plainOut);
    }

    /** Arena bytes one run takes: the reordered copies and the scratchpad. */
    long arenaBytes() {
      return copyBytes(inA) + copyBytes(inB) + copyBytes(outReorder) + OneDnn.bytes(scratch);
    }

    /** Copies the output to the result array when the primitive wrote it in its own layout. */
    void finish(Pointer written, INDArray result) {
      if (outReorder != null) {
        outReorder.run(written, OneDnn.address(result));
      }
    }

    void destroy() {
      for (Reorder r : new Reorder[] {inA, inB, outReorder}) {
        if (r != null) {
          r.destroy();
        }
      }
      OneDnn.destroy(primitive);
      OneDnn.destroy(pd);
    }
  }

  /** The primitives of one shape; the backward ones are built on first use. */
  private static final class Plan implements OneDnn.Destroyable {
    final long[] xDims;
    final long[] wDims;
    final long[] wShape;
    final long[] yDims;
    final long[] bDims;
    final long[] strides;
    final long[] dilates;
    final long[] padL;
    final long[] padR;
    final dnnl_memory_desc_t xPlain;
    final dnnl_memory_desc_t wPlain;
    final dnnl_memory_desc_t yPlain;
    final dnnl_memory_desc_t bPlain;
    final boolean bias;
    private Step forward;
    private Step backwardData;
    private Step backwardWeights;

    Plan(Key k) {
      long hOut = (k.h() + 2L * k.pH() - ((long) k.dH() * (k.kH() - 1) + 1)) / k.sH() + 1;
      long wOut = (k.w() + 2L * k.pW() - ((long) k.dW() * (k.kW() - 1) + 1)) / k.sW() + 1;
      xDims = new long[] {k.n(), k.cin(), k.h(), k.w()};
      yDims = new long[] {k.n(), k.cout(), hOut, wOut};
      wShape = new long[] {k.cout(), k.cin() / k.groups(), k.kH(), k.kW()};
      wDims = k.groups() == 1 ? wShape
          : new long[] {k.groups(), k.cout() / k.groups(), k.cin() / k.groups(), k.kH(), k.kW()};
      bDims = new long[] {k.cout()};
      strides = new long[] {k.sH(), k.sW()};
      dilates = new long[] {k.dH() - 1, k.dW() - 1};
      padL = new long[] {k.pH(), k.pW()};
      padR = padL; // PyTorch's floor: oneDNN accepts the same right padding when it yields the same output size
      xPlain = OneDnn.md(xDims, dnnl_nchw);
      wPlain = OneDnn.md(wDims, k.groups() == 1 ? dnnl_oihw : dnnl_goihw);
      yPlain = OneDnn.md(yDims, dnnl_nchw);
      bPlain = OneDnn.md(bDims, dnnl_x);
      bias = k.bias();
    }

    private dnnl_memory_desc_t any(long[] dims) {
      return OneDnn.md(dims, dnnl_format_tag_any);
    }

    Step forward() {
      synchronized (this) {
        if (forward == null) {
          dnnl_convolution_desc_t cd = new dnnl_convolution_desc_t();
          OneDnn.check(dnnl_dilated_convolution_forward_desc_init(cd, dnnl_forward_training, dnnl_convolution_direct,
              any(xDims), any(wDims), bias ? bPlain : null, any(yDims), strides, dilates, padL, padR),
              "convolution_forward_desc_init");
          // forward: x and w in, y out
          forward = new Step(OneDnn.primitiveDesc(cd, null, "convolution forward"), "convolution forward",
              dnnl_query_src_md, xPlain, dnnl_query_weights_md, wPlain, dnnl_query_dst_md, yPlain);
        }
        return forward;
      }
    }

    Step backwardData() {
      Step f = forward();
      synchronized (this) {
        if (backwardData == null) {
          dnnl_convolution_desc_t cd = new dnnl_convolution_desc_t();
          OneDnn.check(dnnl_dilated_convolution_backward_data_desc_init(cd, dnnl_convolution_direct, any(xDims),
              any(wDims), any(yDims), strides, dilates, padL, padR), "convolution_backward_data_desc_init");
          // backward data: dy and w in, dx out
          backwardData = new Step(OneDnn.primitiveDesc(cd, f.pd, "convolution backward data"),
              "convolution backward data", dnnl_query_diff_dst_md, yPlain, dnnl_query_weights_md, wPlain,
              dnnl_query_diff_src_md, xPlain);
        }
        return backwardData;
      }
    }

    Step backwardWeights() {
      Step f = forward();
      synchronized (this) {
        if (backwardWeights == null) {
          dnnl_convolution_desc_t cd = new dnnl_convolution_desc_t();
          OneDnn.check(dnnl_dilated_convolution_backward_weights_desc_init(cd, dnnl_convolution_direct, any(xDims),
              any(wDims), bias ? bPlain : null, any(yDims), strides, dilates, padL, padR),
              "convolution_backward_weights_desc_init");
          // backward weights: x and dy in, dw out (and db, plain)
          backwardWeights = new Step(OneDnn.primitiveDesc(cd, f.pd, "convolution backward weights"),
              "convolution backward weights", dnnl_query_src_md, xPlain, dnnl_query_diff_dst_md, yPlain,
              dnnl_query_diff_weights_md, wPlain);
        }
        return backwardWeights;
      }
    }

    /** Called once no thread uses the plan any more. */
    @Override
    public void destroy() {
      synchronized (this) {
        if (backwardData != null) {
          backwardData.destroy();
        }
        if (backwardWeights != null) {
          backwardWeights.destroy();
        }
        if (forward != null) {
          forward.destroy();
        }
      }
    }
  }
}
