package io.graft.core.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.graft.core.GraftException;
import io.graft.core.Layout;
import io.graft.core.Tensor;
import io.graft.core.backend.Backends;
import io.graft.core.random.Rng;
import io.graft.testing.GradCheck;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@link ChannelScaleOps#scaleChannels} on oneDNN against the broadcast multiply it replaces (libnd4j pinned),
 * forward and both gradients, in C order and channels_last; float64 (the composed path) by finite differences.
 */
class ChannelScaleOpsTest {
  private static Tensor t(long[] shape, long seed, boolean channelsLast, DataType dtype) {
    INDArray c = Tensor.randn(dtype, new Rng(seed), shape).data();
    INDArray a = channelsLast ? Layout.uninitializedChannelsLast(dtype, shape).assign(c) : c;
    return Tensor.of(a).requiresGrad(true);
  }

  private static Tensor[] run(boolean channelsLast, boolean nd4j) {
    Tensor x = t(new long[] {3, 16, 9, 11}, 1, channelsLast, DataType.FLOAT);
    Tensor s = t(new long[] {3, 16, 1, 1}, 2, channelsLast, DataType.FLOAT);
    Tensor g = Tensor.randn(new Rng(3), 3, 16, 9, 11);
    Tensor y;
    if (nd4j) {
      try (Backends.Pin p = Backends.pin(Backends.LIBND4J)) {
        y = ChannelScaleOps.scaleChannels(x, s);
        y.backward(g);
      }
    } else {
      y = ChannelScaleOps.scaleChannels(x, s);
      y.backward(g);
      assertEquals(channelsLast, Layout.isChannelsLast(y.data()), "output layout");
    }
    return new Tensor[] {y, x.grad(), s.grad()};
  }

  @Test
  void oneDnnMatchesTheBroadcastMultiply() {
    Tensor x = t(new long[] {3, 16, 9, 11}, 1, true, DataType.FLOAT);
    Tensor s = t(new long[] {3, 16, 1, 1}, 2, true, DataType.FLOAT);
    assumeTrue(Backends.ONEDNN.supportsChannelScale(x.data(), s.data(), true), "oneDNN not loaded");
    for (boolean cl : new boolean[] {false, true}) {
      Tensor[] ref = run(cl, true);
      Tensor[] got = run(cl, false);
      String[] what = {"y", "dx", "ds"};
      for (int i = 0; i < 3; i++) {
        float[] r = ref[i].toFloatArray();
        float[] o = got[i].toFloatArray();
        assertEquals(r.length, o.length);
        for (int j = 0; j < r.length; j++) {
          assertTrue(Math.abs(r[j] - o[j]) <= 1e-5 + 1e-5 * Math.abs(r[j]),
              what[i] + " channels_last " + cl + " at " + j + ": " + r[j] + " vs " + o[j]);
        }
      }
    }
  }

  @Test
  void float64GradientsMatchFiniteDifferences() {
    Tensor x = t(new long[] {2, 3, 4, 5}, 4, false, DataType.DOUBLE);
    Tensor s = t(new long[] {2, 3, 1, 1}, 5, false, DataType.DOUBLE);
    GradCheck.assertGradients("scale_channels", in -> ChannelScaleOps.scaleChannels(in[0], in[1]), x, s);
  }

  @Test
  void rejectsAScaleOfAnotherShape() {
    Tensor x = Tensor.zeros(2, 3, 4, 5);
    GraftException e = assertThrows(GraftException.class,
        () -> ChannelScaleOps.scaleChannels(x, Tensor.zeros(2, 3, 4, 1)));
    assertTrue(e.getMessage().contains("scale_channels"), e.getMessage());
  }
}
