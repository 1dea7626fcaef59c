package io.graft.layers.lora;

import io.graft.core.Parameter;
import io.graft.core.ShapeException;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.ops.AttentionOps;
import io.graft.core.ops.LinalgOps;
import io.graft.core.random.Rng;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.MultiheadAttention;

/**
 * A {@link MultiheadAttention} with a low-rank adapter on its packed q/k/v projection, exactly as a LoRA on a {@code
 * Linear(E, 3E)} would be: {@code lora_A = Linear(E, r, bias=False)}, {@code lora_B = Linear(r, 3E, bias=False)},
 * {@code qkv = x W_inᵀ + b_in + (alpha / r) · ((dropout(x) Aᵀ) Bᵀ)}, then the heads, scaled dot-product attention and
 * {@code out_proj} as in {@code MultiheadAttention}; {@code ΔW_in = (alpha / r) · B A} ({@code [3E, E]}). The packed
 * weight cannot be adapted per q, k or v separately: one rank-r update spans all three (PEFT, which cannot target
 * {@code nn.MultiheadAttention}'s packed weight as a Linear either, adapts it the same way in its {@code
 * lora.MultiheadAttention}).
 *
 * <p>Keys: the base's {@code in_proj_weight}, {@code in_proj_bias} and {@code out_proj.*} (torchvision's, unchanged),
 * then {@code lora_A.weight} and {@code lora_B.weight} at the attention module's path. {@code out_proj} stays the
 * base's child (shared): it can itself be a LoRA target ({@code ...self_attention.out_proj}), which {@code Lora.apply}
 * wraps inside this one. Self-attention only ({@link #forward}, as torchvision's ViT calls it). See {@link LoraLayer}
 * for freezing and merging.
 */
@HoldsNoIntermediates
public final class LoraMultiheadAttention extends LoraLayer {
  private final MultiheadAttention base;
  private final Linear loraA;
  private final Linear loraB;
  private final Rng attentionRng;
  private Module outProj;

  /**
   * Wraps {@code base} (float32) with a rank-{@code r} adapter on its packed q/k/v projection, scaled by {@code alpha /
   * r}, with dropout {@code dropout} on the adapter's input; {@code lora_A}'s initial weights and the dropout masks come
   * from {@code rng}.
   */
  public LoraMultiheadAttention(MultiheadAttention base, int r, double alpha, double dropout, Rng rng) {
    super(base, "in_proj_weight", base.inProjWeight(), "in_proj_bias", base.inProjBias(), r, alpha, dropout, rng);
    this.base = base;
    this.outProj = registerModule("out_proj", base.outProj());
    this.loraA = new Linear(base.embedDim(), r, false, rng);
    this.loraB = new Linear(r, 3 * base.embedDim(), false, new Rng(0));
    this.attentionRng = rng.fork();
    adapters(loraA, loraA.weight(), loraB, loraB.weight());
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
    try (var g = GradMode.disabled()) {
      return loraB.weight().matmul(loraA.weight()).mul(scaling());
    }
  }

  /** {@code out_proj} may be replaced (by its own adapter): the base attention module takes it too. */
  @Override
  protected void assignChild(String name, Module replacement) {
    if (!name.equals("out_proj")) {
      super.assignChild(name, replacement);
    }
    base.replace("out_proj", replacement);
    outProj = replacement;
  }

  @Override
  Tensor baseForward(Tensor x) {
    throw new IllegalStateException("LoraMultiheadAttention computes its forward in one pass");
  }

  /** Self-attention of {@code x} ({@code (N, L, E)} with batch_first, else {@code (L, N, E)}) with the adapter. */
  @Override
  public Tensor forward(Tensor x) {
    long e = base.embedDim();
    if (x.rank() != 3 || x.shape()[2] != e) {
      throw ShapeException.of(typeName(), "input must be rank 3 with last dimension embed_dim = " + e, x.shape());
    }
    Tensor q = base.batchFirst() ? x : x.transpose(0, 1);
    long n = q.shape()[0];
    long l = q.shape()[1];
    int h = base.numHeads();
    Tensor qkv = LinalgOps.linear(q, base.inProjWeight(), base.inProjBias());
    if (!isMerged()) {
      qkv = qkv.add(adapterTerm(q));
    }
    qkv = qkv.reshape(n, l, 3, h, e / h).permute(2, 0, 3, 1, 4);  // (3, N, H, L, hd)
    Tensor o = AttentionOps.scaledDotProductAttention(qkv.slice(0, 0, 1, 1).squeeze(0), qkv.slice(0, 1, 2, 1)
        .squeeze(0), qkv.slice(0, 2, 3, 1).squeeze(0), null, base.dropout(), isTraining(), attentionRng);
    Tensor y = outProj.call(o.permute(0, 2, 1, 3).reshape(n, l, e));
    return base.batchFirst() ? y : y.transpose(0, 1);
  }
}
