package io.graft.layers.activation;

import io.graft.core.Tensor;
import io.graft.core.ops.ActivationOps;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * Softmax along {@code dim} (negative counts from the end). Unlike PyTorch, the dimension is required: its
 * implicit choice is deprecated there.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.Softmax.html">torch.nn.Softmax</a>
 */
@HoldsNoIntermediates
public final class Softmax extends Module {
  private final int dim;

  /** Softmax along {@code dim} (negative counts from the end); an out-of-range dimension throws at forward. */
  public Softmax(int dim) {
    this.dim = dim;
  }

  @Override
  public Tensor forward(Tensor x) {
    return ActivationOps.softmax(x, dim);
  }

  @Override
  protected String extraRepr() {
    return "dim=" + dim;
  }
}
