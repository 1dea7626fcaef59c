package io.graft.core.backend;

import io.graft.core.Layout;
import java.lang.ref.Reference;
import org.bytedeco.dnnl.dnnl_eltwise_desc_t;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SCRATCHPAD;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_backward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_forward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_logistic_use_dst_for_bwd;
import static org.bytedeco.dnnl.global.dnnl.dnnl_eltwise_swish;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_inference;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_x;

/**
 * Float32 SiLU and sigmoid, forward and backward, on oneDNN's eltwise primitives (swish with alpha 1; logistic,
 * its backward from the output). A pointwise function does not care about layout: an array dense over its own
 * buffer in any order of its dimensions (C order, channels_last; see {@link Layout}) runs as one flat vector, and
 * the result is laid out like it. So a channels_last activation between two convolutions stays channels_last, and
 * the whole function is one pass (libnd4j's composition was five ops with temporaries, in C order).
 */
final class OneDnnEltwise {
  private static final OneDnn.Cache<Key, Plan> PLANS = new OneDnn.Cache<>(OneDnnConv.MAX_PLANS, Plan::new);

  private OneDnnEltwise() {}

  /** What selects a primitive: the function, the number of elements, whether a backward follows. */
  record Key(Activation activation, long n, boolean training) {}

  /** Whether {@code x} can be read as it is: float32, non-empty, dense over its own whole buffer. */
  static boolean takes(INDArray x) {
    return OneDnn.usable(x) && x.length() > 0 && flatOver(x);
  }

  private static boolean flatOver(INDArray a) {
    return a.offset() == 0 && a.data().length() == a.length() && Layout.order(a) != null;
  }

  private static final java.util.function.Consumer<Plan> FORWARD = p -> { };
  private static final java.util.function.Consumer<Plan> TRAINING = Plan::backward;

  /** Whether oneDNN has the primitives (built now, and its backward with {@code backward}) for {@code x}. */
  static boolean supports(Activation a, INDArray x, boolean backward) {
    return takes(x) && PLANS.supports(new Key(a, x.length(), backward), backward ? TRAINING : FORWARD);
  }

  /** The function of {@code x} (which {@link #supports} took), laid out like {@code x}. */
  static INDArray forward(Activation a, INDArray x, boolean training) {
    INDArray y = Layout.uninitializedLike(x, DataType.FLOAT);
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(new Key(a, x.length(), training))) {
      Plan p = lease.plan();
      OneDnn.Arena arena = OneDnn.arena().reset(OneDnn.bytes(p.fwd.scratch));
      OneDnn.execute(p.fwd.primitive, new int[] {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD},
          new dnnl_memory_desc_t[] {p.md, p.md, p.fwd.scratch},
          new Pointer[] {OneDnn.address(x), OneDnn.address(y), p.fwd.scratch(arena)});
      return y;
    } finally {
      Reference.reachabilityFence(x);
    }
  }

  /**
   * The input gradient for the output gradient {@code g}, laid out like {@code x}: SiLU reads {@code x}, sigmoid
   * its output {@code y} (both as {@link #forward} took and made them). {@code g} in another layout is copied into
   * x's first.
   */
  static INDArray backward(Activation a, INDArray x, INDArray y, INDArray g) {
    INDArray gp = Layout.sameDense(x, g) && flatOver(g) && g.dataType() == DataType.FLOAT ? g
        : Layout.uninitializedLike(x, DataType.FLOAT).assign(g);
    INDArray dx = Layout.uninitializedLike(x, DataType.FLOAT);
    INDArray in = a == Activation.SIGMOID ? y : x;
    try (OneDnn.Lease<Plan> lease = PLANS.acquire(new Key(a, x.length(), true))) {
      Plan p = lease.plan();
      OneDnn.Primitive b = p.backward();
      OneDnn.Arena arena = OneDnn.arena().reset(OneDnn.bytes(b.scratch));
      OneDnn.execute(b.primitive, new int[] {a == Activation.SIGMOID ? DNNL_ARG_DST : DNNL_ARG_SRC,
          DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC, DNNL_ARG_SCRATCHPAD},
          new dnnl_memory_desc_t[] {p.md, p.md, p.md, b.scratch},
          new Pointer[] {OneDnn.address(in), OneDnn.address(gp), OneDnn.address(dx), b.scratch(arena)});
      return dx;
    } finally {
      Reference.reachabilityFence(in);
      Reference.reachabilityFence(gp);
    }
  }

  private static int algorithm(Activation a) {
    return switch (a) {
      case SILU -> dnnl_eltwise_swish;
      case SIGMOID -> dnnl_eltwise_logistic_use_dst_for_bwd;
    };
  }

  private static final class Plan implements OneDnn.Destroyable {
    final dnnl_memory_desc_t md;
    final int alg;
    final OneDnn.Primitive fwd;
    private final OneDnn.Later backward = new OneDnn.Later(this::buildBackward);

    Plan(Key k) {
      md = OneDnn.md(new long[] {k.n()}, dnnl_x);
      alg = algorithm(k.activation());
      dnnl_eltwise_desc_t d = new dnnl_eltwise_desc_t();
      // swish's alpha is the factor inside the sigmoid: 1 for SiLU; logistic takes none
      OneDnn.check(dnnl_eltwise_forward_desc_init(d, k.training() ? dnnl_forward_training : dnnl_forward_inference,
          alg, md, 1f, 0f), "eltwise_forward_desc_init");
      fwd = new OneDnn.Primitive(d, null, "eltwise forward " + k.activation());
    }

    OneDnn.Primitive backward() {
      return backward.get();
    }

    private OneDnn.Primitive buildBackward() {
      dnnl_eltwise_desc_t d = new dnnl_eltwise_desc_t();
      OneDnn.check(dnnl_eltwise_backward_desc_init(d, alg, md, md, 1f, 0f), "eltwise_backward_desc_init");
      return new OneDnn.Primitive(d, fwd.pd, "eltwise backward");
    }

    @Override
    public void destroy() {
      backward.destroy();
      fwd.destroy();
    }
  }
}
