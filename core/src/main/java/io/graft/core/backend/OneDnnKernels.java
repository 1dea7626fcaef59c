package io.graft.core.backend;

import io.graft.core.NativeMemory;
import java.util.EnumSet;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * oneDNN's primitives called directly ({@link OneDnn}): float32 on ND4J's CPU backend. Each primitive family keeps
 * its own bounded plan cache ({@link OneDnnConv}, {@link OneDnnBatchNorm}, {@link OneDnnPool}); scratch memory is a
 * per-thread arena ({@link OneDnn.Arena}).
 *
 * <p>Its fallback rule: {@code supports...} says no when oneDNN is off or not loaded, when an array is not float32,
 * when pooling input is not channels_last over its own buffer, or when oneDNN has no primitive for the shape (found
 * by building the plan, forward and, for a call that will run backward, backward primitives too; a refusal is
 * remembered per shape). A call it said yes to runs on oneDNN, forward and backward.
 */
final class OneDnnKernels implements Kernels {
  static final OneDnnKernels INSTANCE = new OneDnnKernels();
  private static final Set<Kernel> KERNELS = EnumSet.allOf(Kernel.class);

  private OneDnnKernels() {}

  @Override
  public String name() {
    return "onednn";
  }

  @Override
  public Set<Kernel> kernels() {
    return KERNELS;
  }

  /** Whether oneDNN loaded and is on ({@code -Dgraft.onednn}, ND4J's CPU backend). */
  public static boolean available() {
    return OneDnn.usable();
  }

  @Override
  public boolean supportsConv2d(Conv2dGeometry geo, INDArray x, INDArray w, INDArray b, boolean backward) {
    return OneDnn.usable(x, w, b) && OneDnnConv.supports(x.shape(), geo, b != null, backward);
  }

  @Override
  public INDArray conv2d(Conv2dGeometry geo, INDArray x, INDArray w, INDArray b, boolean backward) {
    return OneDnnConv.forward(x, w, b, geo, backward);
  }

  @Override
  public INDArray[] conv2dBackward(Conv2dGeometry geo, INDArray x, INDArray w, INDArray b, INDArray g,
      boolean needX, boolean needW, boolean needB) {
    INDArray[] r = needX || needW
        ? OneDnnConv.backward(x, w, b, g, x.shape(), geo, needX, needW)
        : new INDArray[3];
    if (!needB) {
      NativeMemory.release(r[2]);
      r[2] = null;
    } else if (r[2] == null && b != null) {
      // the bias gradient comes with the weight gradient; alone (frozen weights, trainable bias) it is a sum
      r[2] = Channels.sum(g);
    }
    return r;
  }

  @Override
  public boolean supportsBatchNorm(INDArray x, INDArray weight, INDArray bias, boolean global, double eps,
      boolean backward, boolean relu) {
    return OneDnn.usable(x, weight, bias)
        && OneDnnBatchNorm.supports(x, weight != null, bias != null, global, eps, backward, relu);
  }

  @Override
  public BatchNormPass batchNorm(INDArray x, INDArray weight, INDArray bias, INDArray mean, INDArray var,
      double eps, boolean backward, boolean relu) {
    INDArray[] out = OneDnnBatchNorm.forward(x, weight, bias, mean, var, eps, relu);
    boolean global = mean != null;
    return new BatchNormPass() {
      @Override
      public INDArray output() {
        return out[0];
      }

      @Override
      public INDArray mean() {
        return out[1];
      }

      @Override
      public INDArray var() {
        return out[2];
      }

      @Override
      public INDArray[] backward(INDArray g, boolean needX, boolean needWeight, boolean needBias) {
        INDArray[] r = OneDnnBatchNorm.backward(x, g, out[1], out[2], weight, bias, global, eps, relu, out[3]);
        boolean[] needs = {needX, needWeight, needBias};
        for (int i = 0; i < 3; i++) {
          if (!needs[i] && r[i] != null) {
            NativeMemory.release(r[i]);
            r[i] = null;
          }
        }
        return r;
      }

      @Override
      public void release() {
        for (INDArray a : out) {
          NativeMemory.release(a);
        }
      }
    };
  }

  @Override
  public boolean supportsPool2d(Pool2dWindow window, Pool2dMode mode, INDArray x, boolean backward) {
    return OneDnnPool.takes(x) && OneDnnPool.supports(x, window, OneDnnPool.algorithm(mode), backward);
  }

  @Override
  public Pooled pool2d(Pool2dWindow window, Pool2dMode mode, INDArray x, boolean backward) {
    INDArray[] r = OneDnnPool.forward(x, window, OneDnnPool.algorithm(mode), backward);
    return new Pooled(r[0], r[1]);
  }

  @Override
  public INDArray pool2dBackward(Pool2dWindow window, Pool2dMode mode, INDArray x, INDArray g, Pooled forward) {
    return OneDnnPool.backward(x, g, forward.workspace(), window, OneDnnPool.algorithm(mode));
  }

  @Override
  public boolean supportsBatchedMatmul(INDArray a, INDArray b, boolean backward) {
    return OneDnnMatmul.supports(a, b, backward);
  }

  @Override
  public INDArray batchedMatmul(INDArray a, INDArray b) {
    return OneDnnMatmul.multiply(a, b);
  }

  @Override
  public boolean supportsLayerNorm(long m, long d, boolean scale, boolean shift, double eps, boolean backward) {
    return OneDnn.usable() && OneDnnLayerNorm.supports(m, d, scale, shift, eps, backward);
  }

  @Override
  public INDArray[] layerNorm(INDArray x, INDArray weight, INDArray bias, double eps) {
    return OneDnnLayerNorm.forward(x, weight, bias, eps);
  }

  @Override
  public INDArray[] layerNormBackward(INDArray x, INDArray g, INDArray mean, INDArray var, INDArray weight,
      INDArray bias, double eps) {
    return OneDnnLayerNorm.backward(x, g, mean, var, weight, bias, eps);
  }

  @Override
  public boolean supportsActivation(Activation activation, INDArray x, boolean backward) {
    return OneDnnEltwise.supports(activation, x, backward);
  }

  @Override
  public INDArray activation(Activation activation, INDArray x, boolean backward) {
    return OneDnnEltwise.forward(activation, x, backward);
  }

  @Override
  public INDArray activationBackward(Activation activation, INDArray x, INDArray y, INDArray g) {
    return OneDnnEltwise.backward(activation, x, y, g);
  }

  @Override
  public boolean supportsChannelScale(INDArray x, INDArray s, boolean backward) {
    return OneDnnChannelScale.supports(x, s, backward);
  }

  @Override
  public INDArray channelScale(INDArray x, INDArray s) {
    return OneDnnChannelScale.forward(x, s);
  }

  @Override
  public INDArray[] channelScaleBackward(INDArray x, INDArray s, INDArray g, boolean needX, boolean needS) {
    return OneDnnChannelScale.backward(x, s, g, needX, needS);
  }
}
