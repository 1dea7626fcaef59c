package io.graft.core.backend;

import io.graft.core.Layout;
import io.graft.core.NativeMemory;
import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_pooling_v2_desc_t;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SCRATCHPAD;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WORKSPACE;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_inference;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nhwc;
import static org.bytedeco.dnnl.global.dnnl.dnnl_pooling_avg_exclude_padding;
import static org.bytedeco.dnnl.global.dnnl.dnnl_pooling_avg_include_padding;
import static org.bytedeco.dnnl.global.dnnl.dnnl_pooling_max;
import static org.bytedeco.dnnl.global.dnnl.dnnl_pooling_v2_backward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_pooling_v2_forward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_workspace_md;

/**
 * Float32 2-D max and average pooling of channels_last input (see {@link Layout}) on oneDNN's primitives (see
 * {@link OneDnn}): the forward keeps the max pool's argmax in a workspace, so the backward is one pass, where
 * libnd4j's {@code maxpool2d_bp} runs the forward again first (and needs a cleared output).
 */
final class OneDnnPool {
  private static final OneDnn.Cache<Key, Plan> PLANS = new OneDnn.Cache<>(OneDnnConv.MAX_PLANS, Plan::new);

  private OneDnnPool() {}

  /** oneDNN's algorithm for a mode. */
  static int algorithm(Pool2dMode mode) {
    return switch (mode) {
      case MAX -> dnnl_pooling_max;
      case AVG_INCLUDE_PAD -> dnnl_pooling_avg_include_padding;
      case AVG_EXCLUDE_PAD -> dnnl_pooling_avg_exclude_padding;
    };
  }

  /** Whether oneDNN's pooling reads {@code x} as it is: float32, channels_last over its own whole buffer. */
  static boolean takes(INDArray x) {
    return OneDnn.usable(x) && Layout.isChannelsLast(x) && x.offset() == 0 && x.data().length() == x.length();
  }

  private static final java.util.function.Consumer<Plan> FORWARD = p -> { };
  private static final java.util.function.Consumer<Plan> TRAINING = Plan::backward;

  /**
   * Whether oneDNN has primitives for this pooling of {@code x} (which {@link #takes}), with its backward when
   * {@code training}: built now, so that a shape oneDNN cannot run is found here.
   */
  static boolean supports(INDArray x, Pool2dWindow w, int alg, boolean training) {
    return PLANS.supports(key(x, w, alg, training), training ? TRAINING : FORWARD);
  }

  /** Everything that selects a primitive: input dims, window, oneDNN algorithm, and whether to keep a workspace. */
  record Key(List<Long> dims, Pool2dWindow window, int alg, boolean training) {}

  private static Key key(INDArray x, Pool2dWindow w, int alg, boolean training) {
    return new Key(Arrays.stream(x.shape()).boxed().toList(), w, alg, training);
  }

  /**
   * {@code {y, workspace}} (the workspace null unless {@code training} and the algorithm keeps one), y channels_last.
   * For an {@code x} and shape {@link #supports} said yes to.
   */
  static INDArray[] forward(INDArray x, Pool2dWindow w, int alg, boolean training) {
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(key(x, w, alg, training))) {
      Plan p = lease.plan();
      INDArray y = Layout.uninitializedChannelsLast(DataType.FLOAT, p.yDims);
      INDArray ws = p.workspace == null ? null
          : NativeMemory.uninitialized(DataType.FLOAT, (OneDnn.bytes(p.workspace) + 3) / 4);
      OneDnn.Arena arena = OneDnn.arena().reset(OneDnn.bytes(p.fwd.scratch));
      OneDnn.execute(p.fwd.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE, DNNL_ARG_SCRATCHPAD},
          new dnnl_memory_desc_t[] {p.x, p.y, p.workspace, p.fwd.scratch}, new Pointer[] {OneDnn.address(x),
          OneDnn.address(y), ws == null ? null : OneDnn.address(ws),
          p.fwd.scratch(arena)});
      return new INDArray[] {y, ws};
    } finally {
      Reference.reachabilityFence(x);
    }
  }

  /** The input gradient of {@link #forward} (channels_last), from its workspace. */
  static INDArray backward(INDArray x, INDArray g, INDArray workspace, Pool2dWindow w, int alg) {
    INDArray gp = Layout.isChannelsLast(g) && g.offset() == 0 && g.data().length() == g.length() ? g
        : Layout.uninitializedChannelsLast(DataType.FLOAT, g.shape()).assign(g);
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(key(x, w, alg, true))) {
      Plan p = lease.plan();
      OneDnn.Primitive b = p.backward();
      INDArray dx = Layout.uninitializedChannelsLast(DataType.FLOAT, x.shape());
      OneDnn.Arena arena = OneDnn.arena().reset(OneDnn.bytes(b.scratch));
      OneDnn.execute(b.primitive, new int[] {DNNL_ARG_DIFF_DST, DNNL_ARG_WORKSPACE, DNNL_ARG_DIFF_SRC,
          DNNL_ARG_SCRATCHPAD}, new dnnl_memory_desc_t[] {p.y, p.workspace, p.x, b.scratch}, new Pointer[] {
          OneDnn.address(gp), workspace == null ? null : OneDnn.address(workspace), OneDnn.address(dx),
          b.scratch(arena)});
      return dx;
    } finally {
      Reference.reachabilityFence(gp);
      Reference.reachabilityFence(workspace);
    }
  }

  private static final class Plan implements OneDnn.Destroyable {
    final long[] yDims;
    final dnnl_memory_desc_t x;
    final dnnl_memory_desc_t y;
    final int alg;
    final long[] strides;
    final long[] kernel;
    final long[] dilation = {0, 0};
    final long[] pad;
    final OneDnn.Primitive fwd;
    final dnnl_memory_desc_t workspace;
    private final OneDnn.Later backward = new OneDnn.Later(this::buildBackward);

    Plan(Key k) {
      long[] xDims = k.dims().stream().mapToLong(Long::longValue).toArray();
      Pool2dWindow w = k.window();
      yDims = new long[] {xDims[0], xDims[1], w.hOut(), w.wOut()};
      x = OneDnn.md(xDims, dnnl_nhwc);
      y = OneDnn.md(yDims, dnnl_nhwc);
      alg = k.alg();
      strides = new long[] {w.sH(), w.sW()};
      kernel = new long[] {w.kH(), w.kW()};
      pad = new long[] {w.pH(), w.pW()}; // PyTorch's floor: the same padding right gives the same output size
      dnnl_pooling_v2_desc_t d = new dnnl_pooling_v2_desc_t();
      OneDnn.check(dnnl_pooling_v2_forward_desc_init(d, k.training() ? dnnl_forward_training : dnnl_forward_inference,
          alg, x, y, strides, kernel, dilation, pad, pad), "pooling_forward_desc_init");
      fwd = new OneDnn.Primitive(d, null, "pooling forward");
      dnnl_memory_desc_t ws = OneDnn.query(fwd.pd, dnnl_query_workspace_md);
      workspace = OneDnn.bytes(ws) == 0 ? null : ws;
    }

    OneDnn.Primitive backward() {
      return backward.get();
    }

    private OneDnn.Primitive buildBackward() {
      dnnl_pooling_v2_desc_t d = new dnnl_pooling_v2_desc_t();
      OneDnn.check(dnnl_pooling_v2_backward_desc_init(d, alg, x, y, strides, kernel, dilation, pad, pad),
          "pooling_backward_desc_init");
      return new OneDnn.Primitive(d, fwd.pd, "pooling backward");
    }

    @Override
    public void destroy() {
      backward.destroy();
      fwd.destroy();
    }
  }
}
