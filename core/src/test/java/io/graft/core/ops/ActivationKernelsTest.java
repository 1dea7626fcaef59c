package io.graft.core.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.graft.core.Layout;
import io.graft.core.Tensor;
import io.graft.core.backend.Activation;
import io.graft.core.backend.Backends;
import io.graft.core.random.Rng;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * SiLU and sigmoid on oneDNN's eltwise kernels against the ops' own ND4J path (libnd4j pinned), forward and input
 * gradient, in C order and channels_last, with values in the tails and non-finite ones; the result keeps the
 * input's layout. (PyTorch parity of both paths: OpsParityTest; float64 finite differences: OpsGradCheckTest, which
 * run the ND4J path, oneDNN having no float64.)
 */
class ActivationKernelsTest {
  private static final float[] EDGES = {0f, -0f, 1e-8f, -1e-8f, 20f, -20f, 88f, -88f, 104f, -104f, 1e4f, -1e4f,
      Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};

  private static Function<Tensor, Tensor> op(String name) {
    return name.equals("silu") ? ActivationOps::silu : ActivationOps::sigmoid;
  }

  private static Tensor input(boolean channelsLast) {
    long[] shape = {2, 24, 5, 7};
    float[] v = Tensor.randn(new Rng(7), shape).mul(4).toFloatArray();
    System.arraycopy(EDGES, 0, v, 3, EDGES.length);
    INDArray c = Tensor.fromArray(v, shape).data();
    INDArray a = channelsLast ? Layout.uninitializedChannelsLast(DataType.FLOAT, shape).assign(c) : c;
    return Tensor.of(a).requiresGrad(true);
  }

  /** {y, dx} of the op for a fixed output gradient; with {@code nd4j}, the libnd4j backend pinned. */
  private static Tensor[] run(String name, boolean channelsLast, boolean nd4j) {
    Tensor x = input(channelsLast);
    Tensor g = Tensor.randn(new Rng(9), x.shape());
    Tensor y;
    if (nd4j) {
      try (Backends.Pin p = Backends.pin(Backends.LIBND4J)) {
        y = op(name).apply(x);
        y.backward(g);
      }
    } else {
      y = op(name).apply(x);
      y.backward(g);
      assertEquals(Layout.isChannelsLast(x.data()), Layout.isChannelsLast(y.data()), "output layout");
    }
    return new Tensor[] {y, x.grad()};
  }

  @ParameterizedTest
  @ValueSource(strings = {"silu", "sigmoid"})
  void oneDnnMatchesTheNd4jPath(String name) {
    assumeTrue(Backends.ONEDNN.supportsActivation(Activation.SILU, input(false).data(), true), "oneDNN not loaded");
    for (boolean cl : new boolean[] {false, true}) {
      Tensor[] ref = run(name, cl, true);
      Tensor[] got = run(name, cl, false);
      close(ref[0].toFloatArray(), got[0].toFloatArray(), name + " forward, channels_last " + cl);
      close(ref[1].toFloatArray(), got[1].toFloatArray(), name + " backward, channels_last " + cl);
    }
  }

  /** Equal where not finite (NaN where NaN); else within 1e-6 + 1e-5 |ref|. */
  private static void close(float[] ref, float[] got, String what) {
    assertEquals(ref.length, got.length, what);
    for (int i = 0; i < ref.length; i++) {
      if (!Float.isFinite(ref[i]) || !Float.isFinite(got[i])) {
        assertArrayEquals(new float[] {ref[i]}, new float[] {got[i]}, what + " at " + i);
        continue;
      }
      assertTrue(Math.abs(ref[i] - got[i]) <= 1e-6 + 1e-5 * Math.abs(ref[i]),
          what + " at " + i + ": " + ref[i] + " vs " + got[i]);
    }
  }
}
