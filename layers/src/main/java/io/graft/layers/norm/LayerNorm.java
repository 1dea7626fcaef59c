package io.graft.layers.norm;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.ops.LayerNormOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * Layer normalisation over the trailing {@code normalizedShape} dimensions (torch.nn.LayerNorm): each sample is
 * normalised by the mean and biased variance of those dimensions, then scaled by {@code weight} and shifted by
 * {@code bias} (both of shape {@code normalizedShape}, registered only with {@code elementwiseAffine}; initialised to
 * ones and zeros). No running statistics: training and eval mode compute the same thing.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.LayerNorm.html">torch.nn.LayerNorm</a>
 */
@HoldsNoIntermediates
public class LayerNorm extends Module {
  private final long[] normalizedShape;
  private final double eps;
  private final Parameter weight;
  private final Parameter bias;

  /** {@code LayerNorm(normalizedShape)} with PyTorch's defaults: eps 1e-5, elementwise affine. */
  public LayerNorm(long... normalizedShape) {
    this(normalizedShape, 1e-5, true);
  }

  /**
   * A layer norm over {@code normalizedShape} (non-empty, positive sizes), adding {@code eps} (non-negative) to the
   * variance, with learnable {@code weight} and {@code bias} when {@code elementwiseAffine}; throws {@link
   * GraftException} otherwise.
   */
  public LayerNorm(long[] normalizedShape, double eps, boolean elementwiseAffine) {
    if (normalizedShape.length == 0) {
      throw new GraftException("LayerNorm: normalized_shape must have at least one dimension");
    }
    for (long d : normalizedShape) {
      if (d < 1) {
        throw new GraftException("LayerNorm: normalized_shape sizes must be positive, got "
            + java.util.Arrays.toString(normalizedShape));
      }
    }
    if (!(eps >= 0)) {
      throw new GraftException("LayerNorm: eps must be non-negative, got " + eps);
    }
    this.normalizedShape = normalizedShape.clone();
    this.eps = eps;
    this.weight = elementwiseAffine ? registerParameter("weight", new Parameter(Tensor.ones(normalizedShape).data()))
        : null;
    this.bias = elementwiseAffine ? registerParameter("bias", new Parameter(Tensor.zeros(normalizedShape).data()))
        : null;
  }

  /** PyTorch's {@code normalized_shape}. */
  public long[] normalizedShape() {
    return normalizedShape.clone();
  }

  /** The value added to the variance. */
  public double eps() {
    return eps;
  }

  /** The scale, or null without elementwise affine. */
  public Parameter weight() {
    return weight;
  }

  /** The shift, or null without elementwise affine. */
  public Parameter bias() {
    return bias;
  }

  @Override
  public Tensor forward(Tensor x) {
    return LayerNormOps.layerNorm(x, normalizedShape, weight, bias, eps);
  }

  @Override
  protected String extraRepr() {
    return java.util.Arrays.toString(normalizedShape) + ", eps=" + eps + ", elementwise_affine=" + (weight != null);
  }
}
