package io.graft.core.backend;

import io.graft.core.GraftException;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Which backend runs a call: the first in {@link #ALL}'s order whose {@code supports...} answer is yes. oneDNN comes
 * first (float32 on ND4J's CPU backend, every geometry oneDNN has a primitive for); libnd4j takes every other call.
 * Tests pin one backend ({@link #pin}) to check its kernels alone.
 */
public final class Backends {
  /** oneDNN's primitives called directly: float32 on the CPU ({@link OneDnnKernels}). */
  public static final Kernels ONEDNN = OneDnnKernels.INSTANCE;
  /** libnd4j's kernels: every other call ({@link Libnd4jKernels}). */
  public static final Kernels LIBND4J = Libnd4jKernels.INSTANCE;
  /** Every backend, in the order they are asked. */
  public static final List<Kernels> ALL = List.of(ONEDNN, LIBND4J);

  private static volatile List<Kernels> order = ALL;

  private Backends() {}

  /** The backend that runs this convolution (see {@link Kernels#supportsConv2d}). */
  public static Kernels conv2d(Conv2dGeometry geo, INDArray x, INDArray w, INDArray b, boolean backward) {
    for (Kernels k : order) {
      if (k.supportsConv2d(geo, x, w, b, backward)) {
        return k;
      }
    }
    throw none("conv2d", x);
  }

  /**
   * The backend that runs this training-mode batch normalisation (batch statistics, with a backward) with a fused
   * ReLU, or null when none does (the op then runs the ReLU apart, on {@link #batchNorm}'s choice).
   */
  public static Kernels batchNormRelu(INDArray x, INDArray weight, INDArray bias, double eps) {
    for (Kernels k : order) {
      if (k.supportsBatchNorm(x, weight, bias, false, eps, true, true)) {
        return k;
      }
    }
    return null;
  }

  /** The backend that runs this batch normalisation (see {@link Kernels#supportsBatchNorm}). */
  public static Kernels batchNorm(INDArray x, INDArray weight, INDArray bias, boolean global, double eps,
      boolean backward, boolean relu) {
    for (Kernels k : order) {
      if (k.supportsBatchNorm(x, weight, bias, global, eps, backward, relu)) {
        return k;
      }
    }
    throw none(relu ? "batch_norm_relu" : "batch_norm", x);
  }

  /** The backend that runs this pooling (see {@link Kernels#supportsPool2d}). */
  public static Kernels pool2d(Pool2dWindow window, Pool2dMode mode, INDArray x, boolean backward) {
    for (Kernels k : order) {
      if (k.supportsPool2d(window, mode, x, backward)) {
        return k;
      }
    }
    throw none("pool2d", x);
  }

  /**
   * The backend that runs this batched product (see {@link Kernels#supportsBatchedMatmul}), or null when none does
   * (the op then runs libnd4j's {@code matmul}).
   */
  public static Kernels batchedMatmul(INDArray a, INDArray b, boolean backward) {
    return first(k -> k.supportsBatchedMatmul(a, b, backward));
  }

  /**
   * The backend that runs this float32 layer norm (see {@link Kernels#supportsLayerNorm}), or null when none does
   * (the op then composes it from libnd4j's transforms).
   */
  public static Kernels layerNorm(long m, long d, boolean scale, boolean shift, double eps, boolean backward) {
    return first(k -> k.supportsLayerNorm(m, d, scale, shift, eps, backward));
  }

  /**
   * The first backend that runs this activation of {@code x} (and its backward when {@code backward}), or null:
   * then the op computes it itself.
   */
  public static Kernels activation(Activation activation, INDArray x, boolean backward) {
    return first(k -> k.supportsActivation(activation, x, backward));
  }

  /** The first backend that runs {@code x · s} per channel (see {@link Kernels#supportsChannelScale}), or null. */
  public static Kernels channelScale(INDArray x, INDArray s, boolean backward) {
    return first(k -> k.supportsChannelScale(x, s, backward));
  }

  /** The first backend in order that {@code runs}, or null. */
  private static Kernels first(java.util.function.Predicate<Kernels> runs) {
    for (Kernels k : order) {
      if (runs.test(k)) {
        return k;
      }
    }
    return null;
  }

  private static GraftException none(String op, INDArray x) {
    return new GraftException(op + ": no kernel backend of " + order.stream().map(Kernels::name).toList()
        + " runs " + x.dataType() + " input of shape " + java.util.Arrays.toString(x.shape()));
  }

  /**
   * Runs every call on {@code only} until the returned scope closes (for tests that check one backend's kernels; a
   * call it does not support fails loudly rather than falling back). Not for concurrent use.
   */
  public static Pin pin(Kernels only) {
    List<Kernels> was = order;
    order = List.of(only);
    return () -> order = was;
  }

  /** A pinned backend's scope. */
  public interface Pin extends AutoCloseable {
    @Override
    void close();
  }
}
