package io.graft.core.ops;

import io.graft.core.ShapeException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.Autograd;
import io.graft.core.backend.Backends;
import io.graft.core.backend.Kernels;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/** A 4-D activation scaled per sample and channel (squeeze-and-excitation's gate), on the kernels Backends picks. */
public final class ChannelScaleOps {
  private ChannelScaleOps() {}

  /**
   * {@code x · s}: x {@code (N, C, H, W)}, s {@code (N, C, 1, 1)}, the same floating dtype; PyTorch's broadcast
   * {@code s * x}. Backward: dx = g · s, ds = Σ over H, W of g · x. On a backend's kernel where one runs it (oneDNN,
   * float32: the output laid out like x), else the broadcast multiply of {@link ElementwiseOps#mul}.
   */
  public static Tensor scaleChannels(Tensor x, Tensor s) {
    String op = "scale_channels";
    Shapes.requireRank(op, "input", x, 4);
    Shapes.requireFloat(op, "input", x);
    Shapes.requireSameDtype(op, x, s);
    long[] xs = x.shape();
    if (!Arrays.equals(s.shape(), new long[] {xs[0], xs[1], 1, 1})) {
      throw ShapeException.of(op, "scale must have shape [N, C, 1, 1] of the input's N and C", s.shape(), xs);
    }
    INDArray xv = x.data();
    INDArray sv = s.data();
    boolean record = Autograd.willRecord(x, s);
    Kernels k = Backends.channelScale(xv, sv, record);
    if (k == null) {
      return ElementwiseOps.mul(s, x);
    }
    INDArray y = k.channelScale(xv, sv);
    return Autograd.recordJoint(op, y, new Tensor[] {x, s},
        (g, needs) -> k.channelScaleBackward(xv, sv, g, needs[0], needs[1]));
  }
}
