package io.graft.core.backend;

import io.graft.core.NativeMemory;
import java.util.EnumSet;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * libnd4j's kernels (through ND4J, on whatever backend ND4J runs): every dtype, layout and geometry the ops accept.
 * Its fallback rule: it supports every call except a batch norm with a fused ReLU, which it has no kernel for (the
 * op then runs the ReLU apart). It owns no state: each call allocates its outputs and libnd4j its scratch.
 */
final class Libnd4jKernels implements Kernels {
  static final Libnd4jKernels INSTANCE = new Libnd4jKernels();
  private static final Set<Kernel> KERNELS = EnumSet.complementOf(EnumSet.of(Kernel.BATCH_NORM_RELU,
      Kernel.BATCH_NORM_RELU_BACKWARD, Kernel.BATCHED_MATMUL, Kernel.BATCHED_MATMUL_BACKWARD,
      Kernel.LAYER_NORM, Kernel.LAYER_NORM_BACKWARD, Kernel.ACTIVATION, Kernel.ACTIVATION_BACKWARD));

  private Libnd4jKernels() {}

  @Override
  public String name() {
    return "libnd4j";
  }

  @Override
  public Set<Kernel> kernels() {
    return KERNELS;
  }

  @Override
  public boolean supportsConv2d(Conv2dGeometry geo, INDArray x, INDArray w, INDArray b, boolean backward) {
    return true;
  }

  @Override
  public INDArray conv2d(Conv2dGeometry geo, INDArray x, INDArray w, INDArray b, boolean backward) {
    return Libnd4jConv.forward(geo, x, w, b);
  }

  @Override
  public INDArray[] conv2dBackward(Conv2dGeometry geo, INDArray x, INDArray w, INDArray b, INDArray g,
      boolean needX, boolean needW, boolean needB) {
    INDArray[] r = Libnd4jConv.backward(geo, x, w, b, g, needX, needW, needB);
    boolean[] needs = {needX, needW, needB};
    for (int i = 0; i < 3; i++) {
      if (!needs[i] && r[i] != null) {   // conv2d_bp computes them all
        NativeMemory.release(r[i]);
        r[i] = null;
      }
    }
    return r;
  }

  @Override
  public boolean supportsBatchNorm(INDArray x, INDArray weight, INDArray bias, boolean global, double eps,
      boolean backward, boolean relu) {
    return !relu;
  }

  @Override
  public BatchNormPass batchNorm(INDArray x, INDArray weight, INDArray bias, INDArray mean, INDArray var,
      double eps, boolean backward, boolean relu) {
    if (relu) {
      throw new IllegalArgumentException("libnd4j has no fused batch norm + ReLU: ask supportsBatchNorm first");
    }
    return Libnd4jBatchNorm.forward(x, weight, bias, mean, var, eps);
  }

  @Override
  public boolean supportsPool2d(Pool2dWindow window, Pool2dMode mode, INDArray x, boolean backward) {
    return true;
  }

  @Override
  public Pooled pool2d(Pool2dWindow window, Pool2dMode mode, INDArray x, boolean backward) {
    return new Pooled(Libnd4jPool.forward(window, mode, x), null);
  }

  @Override
  public INDArray pool2dBackward(Pool2dWindow window, Pool2dMode mode, INDArray x, INDArray g, Pooled forward) {
    return Libnd4jPool.backward(window, mode, x, g);
  }
}
