package io.graft.layers.lora;

import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.ops.LinalgOps;
import io.graft.core.random.Rng;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Linear;

/**
 * A {@link Linear} with a low-rank adapter (PEFT's {@code lora.Linear}): {@code lora_A = Linear(in, r, bias=False)},
 * {@code lora_B = Linear(r, out, bias=False)}, {@code y = x Wᵀ + b + (alpha / r) · ((dropout(x) Aᵀ) Bᵀ)}, and
 * {@code ΔW = (alpha / r) · B A} ({@code [out, in]}). See {@link LoraLayer} for keys, freezing and merging.
 */
@HoldsNoIntermediates
public final class LoraLinear extends LoraLayer {
  private final Linear base;
  private final Linear loraA;
  private final Linear loraB;

  /**
   * Wraps {@code base} (float32) with a rank-{@code r} adapter scaled by {@code alpha / r}, with dropout {@code
   * dropout} on the adapter's input; {@code lora_A}'s initial weights and the dropout's masks come from {@code rng}.
   */
  public LoraLinear(Linear base, int r, double alpha, double dropout, Rng rng) {
    super(base, base.weight(), base.bias(), r, alpha, dropout, rng);
    this.base = base;
    this.loraA = new Linear(base.inFeatures(), r, false, rng);
    this.loraB = new Linear(r, base.outFeatures(), false, new Rng(0));
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

  @Override
  Tensor baseForward(Tensor x) {
    return LinalgOps.linear(x, base.weight(), base.bias());
  }
}
