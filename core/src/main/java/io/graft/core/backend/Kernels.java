package io.graft.core.backend;

import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One backend's kernels for the heavy primitives: 2-D convolution (output, input gradient, weight gradient), batch
 * normalisation (forward and backward, with or without a fused ReLU) and 2-D max and average pooling (forward and
 * backward). The ops in {@code io.graft.core.ops} hold the mathematics and the autograd rules; they validate every
 * argument ({@link Conv2dGeometry#check}, {@link Pool2dWindow#check}) and then ask {@link Backends} for the backend
 * that runs the call, and call it once per direction.
 *
 * <p>The one fallback rule: a backend answers {@code supports...} for a call before it is asked to run it, and
 * {@link Backends} takes the first backend in its order that says yes. A backend that says yes must run the call
 * (and, when the call records a graph, its backward); it never falls back by throwing. {@link Libnd4jKernels} says
 * yes to every convolution, batch norm and pooling call the ops accept (not to a fused batch norm + ReLU), so those
 * calls always have a backend. The optional kernels (batched matmul, layer norm, activations, channel scale) may
 * have none: {@link Backends} then answers null and the op computes the call from libnd4j's transforms itself.
 *
 * <p>Arrays come as the ops hold them (any dense or strided layout, any dtype the op accepts); results are new
 * arrays the caller owns (see {@link io.graft.core.NativeMemory}). Gradients not asked for are null.
 */
public interface Kernels {
  /** A short name for messages and test names ({@code onednn}, {@code libnd4j}). */
  String name();

  /** The primitives this backend has a kernel for; each must have a check in the kernel test registry. */
  Set<Kernel> kernels();

  /** Whether this backend runs this convolution, and its backward too when {@code backward}. */
  boolean supportsConv2d(Conv2dGeometry geo, INDArray x, INDArray w, INDArray b, boolean backward);

  /** {@code y = conv2d(x, w) + b} ({@code b} may be null); {@code backward}: a backward will follow. */
  INDArray conv2d(Conv2dGeometry geo, INDArray x, INDArray w, INDArray b, boolean backward);

  /**
   * {@code {dx, dw, db}} of {@link #conv2d} for the output gradient {@code g}, each null unless asked for
   * ({@code db} only with a bias).
   */
  INDArray[] conv2dBackward(Conv2dGeometry geo, INDArray x, INDArray w, INDArray b, INDArray g, boolean needX,
      boolean needW, boolean needB);

  /**
   * Whether this backend runs this batch normalisation: {@code global} with given statistics (else the batch's),
   * {@code backward} when a backward will follow, {@code relu} with a ReLU fused into the same pass.
   */
  boolean supportsBatchNorm(INDArray x, INDArray weight, INDArray bias, boolean global, double eps, boolean backward,
      boolean relu);

  /**
   * {@code y = (x - mean) / sqrt(var + eps) * weight + bias} per channel (dimension 1), laid out like {@code x};
   * {@code mean} and {@code var} given (then used and kept) or null (then the batch's, the variance biased);
   * {@code weight} and {@code bias} may be null; with {@code relu}, {@code y = max(y, 0)} in the same pass.
   */
  BatchNormPass batchNorm(INDArray x, INDArray weight, INDArray bias, INDArray mean, INDArray var, double eps,
      boolean backward, boolean relu);

  /** Whether this backend runs this pooling, and its backward too when {@code backward}. */
  boolean supportsPool2d(Pool2dWindow window, Pool2dMode mode, INDArray x, boolean backward);

  /** The pooled output, laid out channels_last when {@code x} is; and what its backward reads. */
  Pooled pool2d(Pool2dWindow window, Pool2dMode mode, INDArray x, boolean backward);

  /** The input gradient of {@link #pool2d} for the output gradient {@code g}. */
  INDArray pool2dBackward(Pool2dWindow window, Pool2dMode mode, INDArray x, INDArray g, Pooled forward);

  /**
   * Whether this backend runs the batched product {@code a · b} ({@code (*, m, k) · (*, k, n)}, the same rank of at
   * least 3 and the same leading dimensions), and with {@code backward} the products of its backward too. No by
   * default: the op then runs libnd4j's {@code matmul}.
   */
  default boolean supportsBatchedMatmul(INDArray a, INDArray b, boolean backward) {
    return false;
  }

  /**
   * {@code a · b} over the last two dimensions, batched over the leading ones, into a new C-ordered array (operands
   * in any layout, including transposed views), for operands {@link #supportsBatchedMatmul} said yes to, or
   * (backward) {@code g · bᵀ} and {@code aᵀ · g} of such a call.
   */
  default INDArray batchedMatmul(INDArray a, INDArray b) {
    throw new UnsupportedOperationException(name() + " has no batched matmul kernel");
  }

  /**
   * Whether this backend normalises the rows of an {@code (m, d)} array (layer norm; {@code scale}, {@code shift}:
   * with a weight, a bias), and with {@code backward} has its backward too. No by default: the op then composes it
   * from libnd4j's transforms.
   */
  default boolean supportsLayerNorm(long m, long d, boolean scale, boolean shift, double eps, boolean backward) {
    return false;
  }

  /**
   * {@code {y, mean, var}}: each row of {@code x (m, d)} normalised by its own mean and biased variance, times
   * {@code weight (d)} plus {@code bias (d)} (each may be null), for a call {@link #supportsLayerNorm} said yes to.
   */
  default INDArray[] layerNorm(INDArray x, INDArray weight, INDArray bias, double eps) {
    throw new UnsupportedOperationException(name() + " has no layer norm kernel");
  }

  /** {@code {dx, dweight, dbias}} of {@link #layerNorm} (the parameter gradients null without the parameter). */
  default INDArray[] layerNormBackward(INDArray x, INDArray g, INDArray mean, INDArray var, INDArray weight,
      INDArray bias, double eps) {
    throw new UnsupportedOperationException(name() + " has no layer norm kernel");
  }

  /** A pooling forward's output and what its backward reads ({@code workspace}: a kernel's own state, or null). */
  record Pooled(INDArray output, INDArray workspace) {}

  /**
   * Whether this backend runs this pointwise activation of {@code x} (and its backward when {@code backward}). None
   * by default: the op then computes it itself, with ND4J's transforms.
   */
  default boolean supportsActivation(Activation activation, INDArray x, boolean backward) {
    return false;
  }

  /** The activation of {@code x}, laid out like {@code x}; for a call {@link #supportsActivation} said yes to. */
  default INDArray activation(Activation activation, INDArray x, boolean backward) {
    throw new UnsupportedOperationException(name() + " has no " + activation + " kernel");
  }

  /**
   * The input gradient of {@link #activation} for the output gradient {@code g}, from {@code x} and the forward's
   * output {@code y}, laid out like {@code x}.
   */
  default INDArray activationBackward(Activation activation, INDArray x, INDArray y, INDArray g) {
    throw new UnsupportedOperationException(name() + " has no " + activation + " kernel");
  }

  /**
   * Whether this backend runs {@code x · s} of a 4-D {@code x (N, C, H, W)} by {@code s (N, C, 1, 1)} (and its
   * backward when {@code backward}). None by default: the op then composes it from a broadcast multiply.
   */
  default boolean supportsChannelScale(INDArray x, INDArray s, boolean backward) {
    return false;
  }

  /** {@code x · s}, laid out like {@code x}; for a call {@link #supportsChannelScale} said yes to. */
  default INDArray channelScale(INDArray x, INDArray s) {
    throw new UnsupportedOperationException(name() + " has no channel-scale kernel");
  }

  /** {@code {dx, ds}} of {@link #channelScale} for the output gradient {@code g}, each null unless asked for. */
  default INDArray[] channelScaleBackward(INDArray x, INDArray s, INDArray g, boolean needX, boolean needS) {
    throw new UnsupportedOperationException(name() + " has no channel-scale kernel");
  }
}
