package io.graft.layers;

import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.ops.LinalgOps;
import io.graft.core.random.Rng;

/**
 * y = x Wᵀ + b.
 *
 * <p>Shapes: input {@code (*, in_features)}, weight {@code (out_features, in_features)}, bias
 * {@code (out_features)}, output {@code (*, out_features)}. Initialisation as PyTorch: weight and bias
 * U(-1/√in, 1/√in) (kaiming_uniform with a = √5).
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.Linear.html">torch.nn.Linear</a>
 */
@HoldsNoIntermediates
public final class Linear extends Module {
  private final long inFeatures;
  private final long outFeatures;
  private final Parameter weight;
  private final Parameter bias;

  /** A linear layer with a bias, initialised as PyTorch from {@link Init#defaultRng()}. */
  public Linear(long inFeatures, long outFeatures) {
    this(inFeatures, outFeatures, true);
  }

  /**
   * A linear layer, with a bias unless {@code bias} is false, initialised as PyTorch from {@link Init#defaultRng()}.
   */
  public Linear(long inFeatures, long outFeatures, boolean bias) {
    this(inFeatures, outFeatures, bias, Init.defaultRng());
  }

  /**
   * A linear layer from {@code inFeatures} to {@code outFeatures} (both at least 1, else {@link
   * io.graft.core.GraftException}), with a bias unless {@code bias} is false, initialised as PyTorch from {@code rng}.
   */
  public Linear(long inFeatures, long outFeatures, boolean bias, Rng rng) {
    if (inFeatures < 1 || outFeatures < 1) {
      throw new io.graft.core.GraftException("Linear: features must be positive, got in=" + inFeatures + ", out="
          + outFeatures);
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = registerParameter("weight", new Parameter(Tensor.zeros(outFeatures, inFeatures).data()));
    this.bias = bias ? registerParameter("bias", new Parameter(Tensor.zeros(outFeatures).data())) : null;
    resetParameters(rng);
  }

  /** PyTorch's default initialisation. */
  public void resetParameters(Rng rng) {
    Init.kaimingUniform(weight, Math.sqrt(5), "fan_in", "leaky_relu", rng);
    if (bias != null) {
      double bound = 1 / Math.sqrt(inFeatures);
      Init.uniform(bias, -bound, bound, rng);
    }
  }

  /** The weight, shape {@code (out_features, in_features)}. */
  public Parameter weight() {
    return weight;
  }

  /** The bias, or null when built with {@code bias = false}. */
  public Parameter bias() {
    return bias;
  }

  /** PyTorch's {@code in_features}: the size of the input's last dimension. */
  public long inFeatures() {
    return inFeatures;
  }

  /** PyTorch's {@code out_features}: the size of the output's last dimension. */
  public long outFeatures() {
    return outFeatures;
  }

  @Override
  public Tensor forward(Tensor x) {
    return LinalgOps.linear(x, weight, bias);
  }

  @Override
  protected String extraRepr() {
    return "in_features=" + inFeatures + ", out_features=" + outFeatures + ", bias=" + (bias != null);
  }
}
