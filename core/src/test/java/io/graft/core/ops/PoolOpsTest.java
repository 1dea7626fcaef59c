package io.graft.core.ops;

import static io.graft.testing.TensorAssert.assertClose;
import static io.graft.testing.TensorAssert.assertIdentical;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Layout;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

class PoolOpsTest {
  private static Tensor channelsLast(Tensor t) {
    return Tensor.of(Layout.uninitializedChannelsLast(t.dtype(), t.shape()).assign(t.data()));
  }

  @Test
  void channelsLastInputPoolsToTheSameValuesAndKeepsItsLayout() {
    for (DataType dtype : new DataType[] {DataType.FLOAT, DataType.DOUBLE}) {
      // max pool 3x3/2 pad 1 (ResNet's), average pool 2x2/2, average pool 3x3/2 pad 1 with and without the padding
      // in the divisor; float32 runs oneDNN's pooling on channels_last input, float64 libnd4j's as NHWC
      for (int kind = 0; kind < 4; kind++) {
        for (boolean gradChannelsLast : new boolean[] {true, false}) {
          Tensor x = Tensor.randn(new Rng(3), 2, 5, 9, 8).to(dtype);
          Tensor[] outs = new Tensor[2];
          Tensor[] grads = new Tensor[2];
          double gMax = 0;
          for (int path = 0; path < 2; path++) {
            Tensor xi = (path == 0 ? channelsLast(x) : x.detach()).requiresGrad(true);
            outs[path] = pool(kind, xi);
            try (io.graft.core.autograd.GradMode.Scope off = io.graft.core.autograd.GradMode.disabled()) {
              assertIdentical(pool(kind, xi.detach()), outs[path], "the same without a graph");
            }
            Tensor g = Tensor.randn(new Rng(5), outs[path].shape()).to(dtype);
            gMax = g.data().amaxNumber().doubleValue();
            outs[path].backward(path == 0 && gradChannelsLast ? channelsLast(g) : g);
            grads[path] = xi.grad();
          }
          String what = dtype + " kind " + kind + " gradient channels_last " + gradChannelsLast;
          assertTrue(Layout.isChannelsLast(outs[0].data()), "output layout " + what);
          assertIdentical(outs[0], outs[1], "output " + what);
          if (dtype == DataType.FLOAT && kind != 1) {
            // overlapping windows (3x3, stride 2): an input's gradient sums up to 4 windows' contributions, and
            // oneDNN's kernels for the two layouts may add them in another order (seen on AVX2, not on AVX-512).
            // Equal within the rounding bound of such a sum: (4 - 1) * 2^-24 * (4 terms of at most max|g| each)
            assertClose(grads[0], grads[1], 12 * 0x1p-24 * gMax, 0, "input gradient " + what);
          } else {
            assertIdentical(grads[0], grads[1], "input gradient " + what);
          }
        }
      }
    }
  }

  private static Tensor pool(int kind, Tensor x) {
    int[] one = {1, 1};
    return switch (kind) {
      case 0 -> PoolOps.maxPool2d(x, new int[] {3, 3}, new int[] {2, 2}, one, one);
      case 1 -> PoolOps.avgPool2d(x, new int[] {2, 2}, new int[] {2, 2}, new int[] {0, 0}, true);
      default -> PoolOps.avgPool2d(x, new int[] {3, 3}, new int[] {2, 2}, one, kind == 2);
    };
  }
}
