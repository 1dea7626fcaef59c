package io.graft.layers.lora;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.init.Init;
import io.graft.core.ops.DropoutOps;
import io.graft.core.random.Rng;
import io.graft.layers.Module;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A layer with a low-rank adapter: {@code y = base(x) + (alpha / r) · lora_B(lora_A(dropout(x)))}, the frozen base
 * layer's weight {@code W} plus the trainable update {@code ΔW = (alpha / r) · B A} (PEFT's {@code LoraLayer}).
 *
 * <p><b>Keys.</b> The base layer's parameters are registered as this module's own, under the base's names ({@code
 * weight}, {@code bias}; {@code in_proj_weight}, {@code in_proj_bias} for an attention module), so
 * a model's state dict keeps torchvision's keys for them ({@code <path>.weight}: checkpoints and pretrained files load
 * unchanged); the adapters are the children {@code lora_A} and {@code lora_B} ({@code <path>.lora_A.weight}, {@code
 * <path>.lora_B.weight}: PEFT's names in its saved adapter files). PEFT's in-memory model instead says {@code
 * <path>.base_layer.weight} and {@code <path>.lora_A.default.weight}; Graft has one adapter per layer, so neither
 * extra level exists.
 *
 * <p><b>Training.</b> The base parameters are frozen ({@code requiresGrad = false}): the ops compute no gradient for
 * them and an optimizer keeps no state for them. {@code lora_A} starts Kaiming-uniform (a = √5, as {@code nn.Linear}
 * and PEFT), {@code lora_B} at zero, so the adapted layer starts equal to the base. The dropout (PEFT's {@code
 * lora_dropout}, only on the adapter's input) draws from this layer's own generator and is the identity in eval mode.
 *
 * <p><b>Merging.</b> {@link #merge} adds {@code ΔW} to the base weight in place and keeps a copy of the weight as it
 * was; while merged, the forward is the base layer alone (the adapters get no gradient). {@link #unmerge} puts the
 * copy back, so the base weight is bit for bit what it was before the merge (subtracting {@code ΔW} again would leave
 * rounding errors). The copy costs one base weight's memory per merged layer until the unmerge.
 */
public abstract sealed class LoraLayer extends Module permits LoraLinear, LoraConv2d, LoraMultiheadAttention {
  private final Module base;
  private final Parameter weight;
  private final int r;
  private final double alpha;
  private final double dropout;
  private final Rng dropoutRng;
  private INDArray unmergedWeight;

  /**
   * Wraps {@code base} (whose weight is {@code weight} and bias {@code bias}, null if none): registers them as this
   * module's {@code weight} and {@code bias} and freezes them; the subclass then registers {@code lora_A} and
   * {@code lora_B} through {@link #adapters}.
   */
  LoraLayer(Module base, Parameter weight, Parameter bias, int r, double alpha, double dropout, Rng rng) {
    this(base, "weight", weight, "bias", bias, r, alpha, dropout, rng);
  }

  /** As above, with the base's own names for the weight and bias ({@code in_proj_weight}, {@code in_proj_bias}). */
  LoraLayer(Module base, String weightName, Parameter weight, String biasName, Parameter bias, int r, double alpha,
      double dropout, Rng rng) {
    if (weight.dtype() != DataType.FLOAT) {
      throw new GraftException("LoRA: " + base.typeName() + "'s weight is " + weight.dtype()
          + "; adapters are float32 and need a float32 weight");
    }
    this.base = base;
    this.weight = registerParameter(weightName, weight);
    if (bias != null) {
      registerParameter(biasName, bias);
    }
    weight.requiresGrad(false);
    if (bias != null) {
      bias.requiresGrad(false);
    }
    this.r = r;
    this.alpha = alpha;
    this.dropout = dropout;
    this.dropoutRng = rng.fork();
  }

  /**
   * Registers the adapters as {@code lora_A} (built Kaiming-uniform, a = √5, as {@code nn.Linear}/{@code nn.Conv2d}
   * initialise themselves) and {@code lora_B} (zeroed here), both trainable, and takes the base layer's
   * training mode.
   */
  final void adapters(Module a, Parameter aWeight, Module b, Parameter bWeight) {
    registerModule("lora_A", a);
    registerModule("lora_B", b);
    Init.zeros(bWeight);
    aWeight.requiresGrad(true);
    bWeight.requiresGrad(true);
    train(base.isTraining());
  }

  /**
   * The wrapped layer (a {@code Linear}, {@code Conv2d} or {@code MultiheadAttention}); it shares this module's weight
   * and bias, and its training mode follows this module's.
   */
  public Module base() {
    return base;
  }

  /** The base weight (frozen; merged or not, see {@link #isMerged}). */
  public Parameter weight() {
    return weight;
  }

  /** {@code lora_A}'s weight: {@code [r, in]} for a Linear, {@code [r, in, kH, kW]} for a Conv2d. */
  public abstract Parameter loraA();

  /** {@code lora_B}'s weight: {@code [out, r]} for a Linear, {@code [out, r, 1, 1]} for a Conv2d. */
  public abstract Parameter loraB();

  /** The rank. */
  public int r() {
    return r;
  }

  /** PEFT's {@code lora_alpha}. */
  public double alpha() {
    return alpha;
  }

  /** The factor on the adapter's output, {@code alpha / r}. */
  public double scaling() {
    return alpha / r;
  }

  /** The dropout probability on the adapter's input. */
  public double dropout() {
    return dropout;
  }

  /** Whether {@link #merge} has folded the adapter into the base weight (and {@link #unmerge} has not undone it). */
  public boolean isMerged() {
    return unmergedWeight != null;
  }

  /**
   * {@code ΔW = (alpha / r) · B A} in the base weight's shape and dtype, computed from the adapters as they are now
   * (no graph is recorded).
   */
  public abstract Tensor delta();

  /** The base layer's output on {@code x}, from this module's (shared) parameters. */
  abstract Tensor baseForward(Tensor x);

  /** Sets the mode of this module, its children and the wrapped layer (which is not a child). */
  @Override
  public Module train(boolean mode) {
    super.train(mode);
    base.train(mode);
    return this;
  }

  /** {@code (alpha / r) · lora_B(lora_A(dropout(x)))}, the adapter's term (the base's output is added by the caller). */
  final Tensor adapterTerm(Tensor x) {
    Tensor in = DropoutOps.dropout(x, dropout, isTraining(), dropoutRng);
    Tensor a = namedChildren().get("lora_A").call(in);
    return namedChildren().get("lora_B").call(a).mul(scaling());
  }

  @Override
  public Tensor forward(Tensor x) {
    Tensor y = baseForward(x);
    if (isMerged()) {
      return y;
    }
    return y.add(adapterTerm(x));
  }

  /**
   * Folds the adapter into the base weight, {@code W ← W + ΔW}, keeping a copy of {@code W} for {@link #unmerge};
   * throws {@link GraftException} if already merged.
   */
  public void merge() {
    if (isMerged()) {
      throw new GraftException("LoRA: " + typeName() + " is already merged; unmerge() it first");
    }
    try (var g = GradMode.disabled()) {
      Tensor d = delta();
      INDArray saved = weight.data().dup('c');
      weight.data().addi(d.data());
      unmergedWeight = saved;
    }
  }

  /**
   * Restores the base weight saved by {@link #merge}, bit for bit; throws {@link GraftException} if not merged.
   */
  public void unmerge() {
    if (!isMerged()) {
      throw new GraftException("LoRA: " + typeName() + " is not merged");
    }
    try (var g = GradMode.disabled()) {
      weight.data().assign(unmergedWeight);
    }
    unmergedWeight = null;
  }

  /** Forgets the saved weight after a merge that is to stay (for {@link Lora#mergeAndUnload}). */
  final void dropSavedWeight() {
    unmergedWeight = null;
  }

  @Override
  protected String extraRepr() {
    return "r=" + r + ", alpha=" + alpha + (dropout > 0 ? ", dropout=" + dropout : "") + (isMerged() ? ", merged" : "");
  }
}
