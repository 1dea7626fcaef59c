package io.graft.layers.norm;

import io.graft.core.Tensor;
import io.graft.layers.HoldsNoIntermediates;

/**
 * torchvision's {@code LayerNorm2d} (ConvNeXt's downsampling layers): a {@link LayerNorm} over the channels of an
 * {@code (N, C, H, W)} input, computed by permuting to {@code (N, H, W, C)}, normalising the last dimension and
 * permuting back. Keys {@code weight}, {@code bias} of shape {@code (C)}.
 *
 * @see <a href="https://github.com/pytorch/vision/blob/v0.14.0/torchvision/models/convnext.py">torchvision
 *     convnext.py</a>
 */
@HoldsNoIntermediates
public final class LayerNorm2d extends LayerNorm {
  /** Over {@code channels} channels, with {@code eps} added to the variance, elementwise affine. */
  public LayerNorm2d(long channels, double eps) {
    super(new long[] {channels}, eps, true);
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    return super.forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2);
  }
}
