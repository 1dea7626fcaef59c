package io.graft.layers.lora;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.ops.ConvOps;
import io.graft.core.random.Rng;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.conv.Conv2d;

/**
 * A {@link Conv2d} with a low-rank adapter, as PEFT's {@code lora.Conv2d}: {@code lora_A = Conv2d(in, r, kernel,
 * stride, padding, bias=False)} (the base layer's kernel size, stride and padding), {@code lora_B = Conv2d(r, out, 1,
 * bias=False)}, {@code y = conv(x, W) + b + (alpha / r) · lora_B(lora_A(dropout(x)))}, and {@code ΔW[o, i, kh, kw] =
 * (alpha / r) · Σ_k B[o, k] A[k, i, kh, kw]}. A grouped or dilated base is refused: PEFT's {@code lora_A} drops the
 * base's groups and dilation, so its unmerged and merged forwards would differ. See {@link LoraLayer} for keys, freezing
 * and merging.
 */
@HoldsNoIntermediates
public final class LoraConv2d extends LoraLayer {
  private final Conv2d base;
  private final Conv2d loraA;
  private final Conv2d loraB;

  /**
   * Wraps {@code base} (float32, one group, no dilation; else {@link GraftException}) with a rank-{@code r} adapter
   * scaled by {@code alpha / r}, with dropout {@code dropout} on the adapter's input; {@code lora_A}'s initial weights
   * and the dropout's masks come from {@code rng}.
   */
  public LoraConv2d(Conv2d base, int r, double alpha, double dropout, Rng rng) {
    super(check(base), base.weight(), base.bias(), r, alpha, dropout, rng);
    Conv2d.Options o = base.options();
    long[] w = base.weight().shape();
    this.base = base;
    this.loraA = new Conv2d(base.inChannels(), r, (int) w[2], (int) w[3], Conv2d.Options.defaults()
        .withStride(o.strideH(), o.strideW()).withPadding(o.padH(), o.padW()).withBias(false).withRng(rng));
    this.loraB = new Conv2d(r, base.outChannels(), 1, 1, Conv2d.Options.defaults().withBias(false)
        .withRng(new Rng(0)));
    adapters(loraA, loraA.weight(), loraB, loraB.weight());
  }

  private static Conv2d check(Conv2d base) {
    Conv2d.Options o = base.options();
    if (o.groups() != 1 || o.dilationH() != 1 || o.dilationW() != 1) {
      throw new GraftException("LoRA: a Conv2d with groups=" + o.groups() + ", dilation=(" + o.dilationH() + ", "
          + o.dilationW() + ") cannot be adapted (PEFT's conv LoRA ignores groups and dilation, so its merge would "
          + "change the layer's output); only groups=1, dilation=1");
    }
    return base;
  }

  @Override
  public Parameter loraA() {
    return loraA.weight();
  }

  @Override
  public Parameter loraB() {
    return loraB.weight();
  }

  @Override
  public Tensor delta() {
    long[] a = loraA.weight().shape();
    long[] b = loraB.weight().shape();
    try (var g = GradMode.disabled()) {
      Tensor prod = loraB.weight().reshape(b[0], b[1]).matmul(loraA.weight().reshape(a[0], a[1] * a[2] * a[3]));
      return prod.mul(scaling()).reshape(b[0], a[1], a[2], a[3]);
    }
  }

  @Override
  Tensor baseForward(Tensor x) {
    Conv2d.Options o = base.options();
    return ConvOps.conv2d(x, base.weight(), base.bias(), new int[] {o.strideH(), o.strideW()},
        new int[] {o.padH(), o.padW()}, new int[] {1, 1}, 1);
  }
}
