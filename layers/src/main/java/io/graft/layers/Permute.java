package io.graft.layers;

import io.graft.core.GraftException;
import io.graft.core.Tensor;

/**
 * Reorders the dimensions of its input (torchvision.ops.Permute, as ConvNeXt uses it between channels-first
 * convolutions and channels-last layer norms and linears). The output is a view: no copy.
 *
 * @see <a href="https://pytorch.org/vision/0.14/generated/torchvision.ops.Permute.html">torchvision.ops.Permute</a>
 */
@HoldsNoIntermediates
public final class Permute extends Module {
  private final int[] dims;

  /** A permutation of {@code 0..dims.length-1}; throws {@link GraftException} for anything else. */
  public Permute(int... dims) {
    boolean[] seen = new boolean[dims.length];
    for (int d : dims) {
      if (d < 0 || d >= dims.length || seen[d]) {
        throw new GraftException("Permute: dims must be a permutation of 0.." + (dims.length - 1) + ", got "
            + java.util.Arrays.toString(dims));
      }
      seen[d] = true;
    }
    this.dims = dims.clone();
  }

  /** The permutation. */
  public int[] dims() {
    return dims.clone();
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, dims.length);
    return x.permute(dims);
  }

  @Override
  protected String extraRepr() {
    return "dims=" + java.util.Arrays.toString(dims);
  }
}
