package io.graft.core.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Layout;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Row-mode stochastic depth scales each sample in place of its layout: the same values as {@code x · noise} with
 * the noise drawn from the same generator (torchvision's rule: keep with probability 1 - p, scaled by 1 / (1 - p)),
 * forward and input gradient, in C order and channels_last, the output keeping x's layout; a dropped sample's
 * infinity gives NaN as PyTorch's multiply does.
 */
class StochasticDepthTest {
  @Test
  void rowModeScalesEachSampleAndKeepsTheLayout() {
    long[] shape = {6, 4, 3, 5};
    double p = 0.5;
    for (boolean cl : new boolean[] {false, true}) {
      float[] v = Tensor.randn(new Rng(1), shape).toFloatArray();
      v[0] = Float.POSITIVE_INFINITY;
      INDArray c = Tensor.fromArray(v, shape).data();
      Tensor x = Tensor.of(cl ? Layout.uninitializedChannelsLast(DataType.FLOAT, shape).assign(c) : c)
          .requiresGrad(true);
      Tensor g = Tensor.randn(new Rng(2), shape);
      Tensor y = DropoutOps.stochasticDepth(x, p, "row", true, new Rng(7));
      y.backward(g);
      assertEquals(cl, Layout.isChannelsLast(y.data()), "output layout");
      Rng r = new Rng(7);
      float keep = (float) (1 / (1 - p));
      float[] m = new float[6];
      boolean dropped = false;
      for (int i = 0; i < 6; i++) {
        m[i] = r.nextDouble() >= p ? keep : 0f;
        dropped |= m[i] == 0f;
      }
      assertTrue(dropped, "the seed drops a sample (so the test sees a zero scale)");
      float[] ys = y.toFloatArray();
      float[] gs = g.toFloatArray();
      float[] dx = x.grad().toFloatArray();
      long per = 4 * 3 * 5;
      for (int k = 0; k < v.length; k++) {
        int i = (int) (k / per);
        assertArrayEquals(new float[] {v[k] * m[i], gs[k] * m[i]}, new float[] {ys[k], dx[k]},
            "channels_last " + cl + " at " + k);
      }
    }
  }
}
