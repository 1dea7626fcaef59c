package io.graft.core.backend;

import io.graft.core.GradientSink;
import io.graft.core.Layout;
import io.graft.core.NativeMemory;
import java.lang.ref.Reference;
import io.graft.core.backend.OneDnn.Arena;
import io.graft.core.backend.OneDnn.Reorder;
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
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_winograd;
import static org.bytedeco.dnnl.global.dnnl.dnnl_dilated_convolution_backward_data_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_dilated_convolution_backward_weights_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_dilated_convolution_forward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_format_tag_any;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_goihw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nchw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nhwc;
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
 * {@link OneDnn}). Any geometry {@link Conv2dGeometry#check} accepts: groups (depthwise included: PyTorch's
 * {@code (C_out, C_in / groups, kH, kW)} weight is oneDNN's {@code goihw}), dilation, unequal stride and padding.
 *
 * <p>Primitives are built once per shape (batch, channels, size, kernel, stride, padding, dilation, groups, bias)
 * and kept in a bounded cache. Activations and their gradients are read and written channels_last ({@code nhwc};
 * see {@link Layout}): an output is returned in that layout, an input in any other dense layout is reordered once,
 * and the weights ({@code oihw}) are reordered to oneDNN's blocked layout on every call. With
 * {@code -Dgraft.channelsLast=false} the activations take oneDNN's choice of layout too ({@code format_tag::any},
 * blocked), with a reorder from and to C order around every call. Two shape rules pick a kernel other than oneDNN
 * 2.5's first choice where that is slower ({@code tools/bench/dnnl_spike/ImplSpike}; timings in docs/benchmarks.md):
 * outputs under 4×4 positions run forward in the blocked layout, and input gradients with under 16 input channels
 * take the GEMM-based kernel. Training calls of 3×3 stride-1 convolutions may run oneDNN's Winograd kernels instead
 * ({@link ConvAlgorithm}: its measured rule, {@code -Dgraft.conv.algorithm}, or a scope), in oneDNN's blocked layout
 * with reorders from and to channels_last; where oneDNN has no Winograd primitive for a shape, direct runs.
 */
final class OneDnnConv {
  /** Distinct shapes whose primitives are kept (each holds generated code); the least recently used go first. */
  static final int MAX_PLANS = 256;
  private static final OneDnn.Cache<Key, Plan> PLANS = new OneDnn.Cache<>(MAX_PLANS, Plan::new);

  private OneDnnConv() {}

  /** Everything that selects a primitive; {@code channelsLast}: activations stored N, H, W, C (see {@link Layout}). */
  record Key(long n, long cin, long h, long w, long cout, int groups, int kH, int kW, int sH, int sW, int pH, int pW,
      int dH, int dW, boolean bias, boolean channelsLast, boolean winograd) {

    /**
     * The key of a convolution: Winograd when {@link ConvAlgorithm} says so for a {@code training} call and oneDNN
     * has not refused Winograd for the shape (then direct).
     */
    static Key of(long[] xShape, Conv2dGeometry geo, boolean bias, boolean training) {
      long hOut = (xShape[2] + 2L * geo.pH() - ((long) geo.dH() * (geo.kH() - 1) + 1)) / geo.sH() + 1;
      long wOut = (xShape[3] + 2L * geo.pW() - ((long) geo.dW() * (geo.kW() - 1) + 1)) / geo.sW() + 1;
      Key k = new Key(xShape[0], geo.cin(), xShape[2], xShape[3], geo.cout(), geo.groups(), geo.kH(), geo.kW(),
          geo.sH(), geo.sW(), geo.pH(), geo.pW(), geo.dH(), geo.dW(), bias, OneDnn.channelsLast(),
          ConvAlgorithm.winograd(geo, hOut, wOut, training));
      return k.winograd() && PLANS.refused(k) ? k.direct() : k;
    }

    Key direct() {
      return new Key(n, cin, h, w, cout, groups, kH, kW, sH, sW, pH, pW, dH, dW, bias, channelsLast, false);
    }
  }

  private static final java.util.function.Consumer<Plan> FORWARD = Plan::forward;
  private static final java.util.function.Consumer<Plan> TRAINING = p -> {
    p.forward();
    p.backwardData();
    p.backwardWeights();
  };

  /**
   * Whether oneDNN has primitives for this convolution (and, with {@code backward}, for its gradients): they are
   * built now, so that a shape oneDNN cannot run is found here, never in a forward or backward pass.
   */
  static boolean supports(long[] xShape, Conv2dGeometry geo, boolean bias, boolean backward) {
    Key k = Key.of(xShape, geo, bias, backward);
    if (k.winograd() && PLANS.supports(k, TRAINING)) {
      return true;
    }
    return PLANS.supports(k.winograd() ? k.direct() : k, backward ? TRAINING : FORWARD);   // (Winograd refused: direct)
  }

  /** The oneDNN implementation that runs this convolution's forward pass (e.g. {@code jit_wino_4x3:avx512_core}). */
  static String implementation(long[] xShape, Conv2dGeometry geo, boolean bias, boolean training) {
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(Key.of(xShape, geo, bias, training))) {
      return OneDnn.implementation(lease.plan().forward().pd);
    }
  }

  /**
   * y = conv2d(x, w) + b as a new array, stored channels_last (or C order with {@code -Dgraft.channelsLast=false}).
   * {@code x} may come in any dense layout. For a shape {@link #supports} said yes to.
   */
  static INDArray forward(INDArray x, INDArray w, INDArray b, Conv2dGeometry geo, boolean training) {
    INDArray xp = OneDnn.dense(x);
    INDArray wp = null;
    INDArray bp = b == null ? null : OneDnn.plain(b);
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(Key.of(xp.shape(), geo, b != null, training))) {
      Plan plan = lease.plan();
      wp = plan.weights(w);
      Step f = plan.forward();
      INDArray y = plan.activation(plan.yDims);
      Arena arena = OneDnn.arena().reset(f.arenaBytes(xp, wp));
      Pointer src = f.a.read(arena, xp);
      Pointer wei = f.b.read(arena, wp);
      Pointer dst = f.out(arena, y);
      Pointer scratch = f.scratch == null ? null : arena.take(OneDnn.bytes(f.scratch));
      OneDnn.execute(f.primitive,
          new int[] {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD},
          new dnnl_memory_desc_t[] {f.a.md, f.b.md, bp == null ? null : plan.bPlain, f.out, f.scratch},
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
   * weight gradient, {@code w} only for the input gradient; {@code dx} is stored like the forward's output.
   */
  static INDArray[] backward(INDArray x, INDArray w, INDArray b, INDArray g, long[] xShape, Conv2dGeometry geo,
      boolean needX, boolean needW) {
    boolean bias = b != null;
    INDArray gp = OneDnn.dense(g);
    INDArray xp = needW ? OneDnn.dense(x) : null;
    INDArray wp = null;
    Key key = Key.of(xShape, geo, bias, true);
    if (key.winograd() && !PLANS.supports(key, TRAINING)) {
      key = key.direct();   // (the setting changed since the forward pass, to Winograd for a shape oneDNN refuses)
    }
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(key)) {
      Plan plan = lease.plan();
      wp = needX ? plan.weights(w) : null;
      INDArray[] r = new INDArray[3];
      Step d = needX ? plan.backwardData() : null;
      Step bw = needW ? plan.backwardWeights() : null;
      // one reordered copy of the output gradient serves both primitives when they read the same layout
      boolean shareG = d != null && bw != null && d.a.from(gp) != null && OneDnn.same(d.a.md, bw.b.md);
      long total = 0;
      if (d != null) {
        total += d.arenaBytes(gp, wp);
      }
      if (bw != null) {
        total += bw.arenaBytes(xp, gp) - (shareG ? bw.b.bytes(gp) : 0);
      }
      Arena arena = OneDnn.arena().reset(total);
      Pointer gData = null;
      if (d != null) {
        gData = d.a.read(arena, gp);
        Pointer wei = d.b.read(arena, wp);
        INDArray dx = plan.activation(xShape);
        Pointer diffSrc = d.out(arena, dx);
        Pointer scratch = d.scratch == null ? null : arena.take(OneDnn.bytes(d.scratch));
        OneDnn.execute(d.primitive, new int[] {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC,
            DNNL_ARG_SCRATCHPAD}, new dnnl_memory_desc_t[] {d.a.md, d.b.md, d.out, d.scratch},
            new Pointer[] {gData, wei, diffSrc, scratch});
        d.finish(diffSrc, dx);
        r[0] = dx;
      }
      if (bw != null) {
        Pointer src = bw.a.read(arena, xp);
        Pointer diffDst = shareG ? gData : bw.b.read(arena, gp);
        // a parameter's gradient goes straight into the buffer it kept from the last step, when backward offers it
        INDArray dw = GradientSink.take(w, plan.wShape);
        dw = dw != null ? dw : NativeMemory.uninitialized(DataType.FLOAT, plan.wShape);
        INDArray db = bias ? GradientSink.take(b, plan.bDims) : null;
        db = !bias || db != null ? db : NativeMemory.uninitialized(DataType.FLOAT, plan.bDims);
        Pointer diffWei = bw.out(arena, dw);
        Pointer scratch = bw.scratch == null ? null : arena.take(OneDnn.bytes(bw.scratch));
        OneDnn.execute(bw.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS,
            DNNL_ARG_DIFF_BIAS, DNNL_ARG_SCRATCHPAD}, new dnnl_memory_desc_t[] {bw.a.md, bw.b.md, bw.out,
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

  /**
   * One primitive with two inputs and one output (forward: x, w → y; backward data: dy, w → dx; backward weights:
   * x, dy → dw): the layouts it reads (with reorders from the layouts the arrays come in) and writes, and the
   * reorder from its output layout to the result array's (null where they agree).
   */
  private static final class Step {
    final dnnl_primitive_desc pd;
    final dnnl_primitive primitive;
    final OneDnn.Port a;
    final OneDnn.Port b;
    final dnnl_memory_desc_t out;
    final dnnl_memory_desc_t scratch;
    final Reorder outReorder;

    Step(dnnl_primitive_desc pd, String what, int queryA, int queryB, int queryOut, dnnl_memory_desc_t result) {
      this.pd = pd;
      primitive = OneDnn.primitive(pd, what);
      a = new OneDnn.Port(OneDnn.query(pd, queryA));
      b = new OneDnn.Port(OneDnn.query(pd, queryB));
      out = OneDnn.query(pd, queryOut);
      scratch = OneDnn.scratchpad(pd);
      outReorder = Reorder.between(out, result);
    }

    /** Arena bytes one run on these inputs takes: their reordered copies, the output's, the scratchpad. */
    long arenaBytes(INDArray inA, INDArray inB) {
      return a.bytes(inA) + b.bytes(inB) + (outReorder == null ? 0 : OneDnn.bytes(out)) + OneDnn.bytes(scratch);
    }

    /** Where the primitive writes its output: the result array itself, or the arena when a reorder follows. */
    Pointer out(Arena arena, INDArray result) {
      return outReorder == null ? OneDnn.address(result) : arena.take(OneDnn.bytes(out));
    }

    /** Copies the output to the result array when the primitive wrote it in its own layout. */
    void finish(Pointer written, INDArray result) {
      if (outReorder != null) {
        outReorder.run(written, OneDnn.address(result));
      }
    }

    void destroy() {
      a.destroy();
      b.destroy();
      if (outReorder != null) {
        outReorder.destroy();
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
    final dnnl_memory_desc_t xResult;
    final dnnl_memory_desc_t wPlain;
    final dnnl_memory_desc_t yResult;
    final dnnl_memory_desc_t bPlain;
    final boolean bias;
    final boolean channelsLast;
    /** The layout the primitives read and write activations in: channels_last, or oneDNN's choice. */
    final int act;
    /** oneDNN's algorithm kind: direct or Winograd. */
    final int algorithm;
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
      channelsLast = k.channelsLast();
      // Winograd kernels read and write oneDNN's blocked layout: let it choose, and reorder from and to nhwc
      act = channelsLast && !k.winograd() ? dnnl_nhwc : dnnl_format_tag_any;
      algorithm = k.winograd() ? dnnl_convolution_winograd : dnnl_convolution_direct;
      xResult = OneDnn.md(xDims, channelsLast ? dnnl_nhwc : dnnl_nchw);
      wPlain = OneDnn.md(wDims, k.groups() == 1 ? dnnl_oihw : dnnl_goihw);
      yResult = OneDnn.md(yDims, channelsLast ? dnnl_nhwc : dnnl_nchw);
      bPlain = OneDnn.md(bDims, dnnl_x);
      bias = k.bias();
    }

    /** The weights as oneDNN reads them: C-ordered, grouped ones as {@code (G, C_out / G, C_in / G, kH, kW)}. */
    INDArray weights(INDArray w) {
      INDArray p = OneDnn.plain(w);
      return wDims.length == 4 ? p : p.reshape(wDims);
    }

    /** A new array for an activation or its gradient: channels_last, or C order. */
    INDArray activation(long[] dims) {
      return channelsLast ? Layout.uninitializedChannelsLast(DataType.FLOAT, dims)
          : NativeMemory.uninitialized(DataType.FLOAT, dims);
    }

    private dnnl_memory_desc_t any(long[] dims) {
      return OneDnn.md(dims, dnnl_format_tag_any);
    }

    private dnnl_memory_desc_t activationMd(long[] dims) {
      return OneDnn.md(dims, act);
    }

    Step forward() {
      synchronized (this) {
        if (forward == null) {
          // for an output of under 4x4 positions oneDNN 2.5 runs channels_last slowly (its brgconv kernel): let it
          // choose its layout, and reorder the small arrays
          int fwdAct = yDims[2] * yDims[3] < 16 ? dnnl_format_tag_any : act;
          dnnl_convolution_desc_t cd = new dnnl_convolution_desc_t();
          OneDnn.check(dnnl_dilated_convolution_forward_desc_init(cd, dnnl_forward_training, algorithm,
              OneDnn.md(xDims, fwdAct), any(wDims), bias ? bPlain : null, OneDnn.md(yDims, fwdAct), strides, dilates,
              padL, padR), "convolution_forward_desc_init");
          // forward: x and w in, y out
          forward = new Step(OneDnn.primitiveDesc(cd, null, "convolution forward"), "convolution forward",
              dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md, yResult);
        }
        return forward;
      }
    }

    Step backwardData() {
      Step f = forward();
      synchronized (this) {
        if (backwardData == null) {
          dnnl_convolution_desc_t cd = new dnnl_convolution_desc_t();
          OneDnn.check(dnnl_dilated_convolution_backward_data_desc_init(cd, algorithm,
              activationMd(xDims), any(wDims), activationMd(yDims), strides, dilates, padL, padR),
              "convolution_backward_data_desc_init");
          // backward data: dy and w in, dx out. With under 16 input channels (an image: the stem's input gradient)
          // oneDNN 2.5's direct JIT kernel pads them to 16 and is slower than its GEMM-based one
          boolean fewChannels = wDims.length == 4 && xDims[1] < 16;
          backwardData = new Step(OneDnn.primitiveDesc(cd, f.pd, "convolution backward data",
              impl -> fewChannels && impl.startsWith("jit:")),
              "convolution backward data", dnnl_query_diff_dst_md, dnnl_query_weights_md, dnnl_query_diff_src_md,
              xResult);
        }
        return backwardData;
      }
    }

    Step backwardWeights() {
      Step f = forward();
      synchronized (this) {
        if (backwardWeights == null) {
          dnnl_convolution_desc_t cd = new dnnl_convolution_desc_t();
          OneDnn.check(dnnl_dilated_convolution_backward_weights_desc_init(cd, algorithm,
              activationMd(xDims), any(wDims), bias ? bPlain : null, activationMd(yDims), strides, dilates, padL,
              padR), "convolution_backward_weights_desc_init");
          // backward weights: x and dy in, dw out (and db, plain)
          backwardWeights = new Step(OneDnn.primitiveDesc(cd, f.pd, "convolution backward weights"),
              "convolution backward weights", dnnl_query_src_md, dnnl_query_diff_dst_md, dnnl_query_diff_weights_md,
              wPlain);
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
