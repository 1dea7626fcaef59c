package io.graft.core.ops;

import io.graft.core.Tensor;
import io.graft.core.autograd.Autograd;
import io.graft.core.backend.Backends;
import io.graft.core.backend.Conv2dGeometry;
import io.graft.core.backend.Kernels;
import org.nd4j.linalg.api.ndarray.INDArray;

/** 2-D convolution (cross-correlation, as in PyTorch), on the kernels {@link Backends} picks. */
public final class ConvOps {
  private ConvOps() {}

  /**
   * y = conv2d(x, w) + b.
   *
   * <p>Shapes: x {@code (N, C_in, H, W)}, w {@code (C_out, C_in / groups, kH, kW)}, b {@code (C_out)} or null,
   * y {@code (N, C_out, H_out, W_out)} with {@code H_out = (H + 2 pH - dH (kH - 1) - 1) / sH + 1}.
   *
   * <p>Backward: dx = conv_transpose(g, w), dw = correlation of x with g, db = sum of g over N, H, W.
   *
   * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.functional.conv2d.html">torch.nn.functional.conv2d</a>
   */
  public static Tensor conv2d(Tensor x, Tensor w, Tensor b, int[] stride, int[] padding, int[] dilation, int groups) {
    Conv2dGeometry geo = Conv2dGeometry.check(x, w, b, stride, padding, dilation, groups);
    INDArray xv = x.data();
    INDArray wv = w.data();
    INDArray bv = b == null ? null : b.data();
    boolean record = Autograd.willRecord(x, w, b);
    Kernels kernels = Backends.conv2d(geo, xv, wv, bv, record);
    INDArray y = kernels.conv2d(geo, xv, wv, bv, record);
    Tensor[] inputs = b == null ? new Tensor[] {x, w} : new Tensor[] {x, w, b};
    return Autograd.recordJoint("conv2d", y, inputs, (g, needs) -> {
      INDArray[] r = kernels.conv2dBackward(geo, xv, wv, bv, g, needs[0], needs[1], b != null && needs[2]);
      return b == null ? new INDArray[] {r[0], r[1]} : r;
    });
  }
}
