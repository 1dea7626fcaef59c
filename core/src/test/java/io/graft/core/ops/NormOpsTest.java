package io.graft.core.ops;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Layout;
import io.graft.core.Tensor;
import io.graft.core.backend.Backends;
import io.graft.core.random.Rng;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.junit.jupiter.api.Test;

class NormOpsTest {
  @Test
  void oneDnnBatchNormEqualsTheLibnd4jCompositionForEveryRankLayoutAndParameterMix() {
    // float32 runs oneDNN's primitive; the composition (gradchecked in float64) is the reference. Layouts (4-D):
    // 0 all C order, 1 input channels_last with a C-ordered gradient, 2 both channels_last. With relu, training on
    // 4-D input runs oneDNN's fused ReLU
    long[][] shapes = {{6, 5}, {4, 3, 7}, {3, 4, 5, 6}, {2, 8, 1, 1}};
    for (long[] shape : shapes) {
      for (int layout = 0; layout < (shape.length == 4 ? 3 : 1); layout++) {
        for (int mix = 0; mix < 24; mix++) { // weight?, bias?, running stats?, eval (running stats used)?, relu?
          boolean hasW = (mix & 1) != 0;
          boolean hasB = (mix & 2) != 0;
          boolean running = (mix & 4) != 0 || (mix & 8) != 0;
          boolean training = (mix & 8) == 0;
          boolean relu = mix >= 12;
          Rng rng = new Rng(41);
          Tensor x = Tensor.randn(rng, shape).mul(3).add(1.5);
          long c = shape[1];
          Tensor w = hasW ? Tensor.randn(rng, c) : null;
          Tensor b = hasB ? Tensor.randn(rng, c) : null;
          Tensor g = Tensor.randn(new Rng(43), shape);
          Tensor[] outs = new Tensor[2];
          Tensor[][] grads = new Tensor[2][];
          Tensor[][] stats = new Tensor[2][];
          for (int path = 0; path < 2; path++) {
            Tensor xi = (path == 0 && layout > 0 ? channelsLast(x) : x.detach()).requiresGrad(true);
            Tensor wi = hasW ? w.detach().requiresGrad(true) : null;
            Tensor bi = hasB ? b.detach().requiresGrad(true) : null;
            Tensor rm = running ? Tensor.randn(new Rng(47), c) : null;
            Tensor rv = running ? Tensor.rand(new Rng(53), c).add(0.5) : null;
            NormOps.Args args = new NormOps.Args(rm, rv, wi, bi, training, 0.1, 1e-5);
            try (Backends.Pin pin = Backends.pin(path == 0 ? Backends.ONEDNN : Backends.LIBND4J)) {
              outs[path] = relu ? NormOps.batchNormRelu(xi, args) : NormOps.batchNorm(xi, args);
            }
            if (path == 0) {
              assertTrue(Layout.sameDense(xi.data(), outs[path].data()), "the output keeps the input's layout");
              assertEquals(relu && training && shape.length == 4 ? "batch_norm_relu" : relu ? "relu" : "batch_norm",
                  outs[path].gradFn().op(), "the op that ran");
            }
            outs[path].backward(path == 0 && layout == 2 ? channelsLast(g) : g);
            grads[path] = new Tensor[] {xi.grad(), hasW ? wi.grad() : null, hasB ? bi.grad() : null};
            stats[path] = new Tensor[] {rm, rv};
          }
          String what = Arrays.toString(shape) + " layout " + layout + " weight " + hasW + " bias " + hasB
              + " running " + running + " training " + training + " relu " + relu;
          assertClose(outs[0], outs[1], 1e-4, 1e-4, "output " + what);
          for (int k = 0; k < 3; k++) {
            if (grads[1][k] != null) {
              assertClose(grads[0][k], grads[1][k], 1e-4, 1e-4, "gradient " + k + " " + what);
            }
          }
          if (running) {
            assertClose(stats[0][0], stats[1][0], 1e-6, 1e-5, "running mean " + what);
            assertClose(stats[0][1], stats[1][1], 1e-6, 1e-5, "running var " + what);
          }
        }
      }
    }
  }

  @Test
  void theFusedReluKeepsNanAsPyTorchsReluDoes() {
    // oneDNN's fused ReLU turns NaN into 0: a NaN input (channel 1) or weight (channel 2) must still give NaN
    for (int k = 0; k < 2; k++) {
      Tensor x = Tensor.randn(new Rng(7), 2, 3, 4, 4);
      Tensor w = Tensor.ones(3);
      if (k == 0) {
        x.data().putScalar(new long[] {1, 1, 2, 3}, Float.NaN);
      } else {
        w.data().putScalar(2, Float.NaN);
      }
      Tensor fused = NormOps.batchNormRelu(channelsLast(x), null, null, w, Tensor.zeros(3), true, 0.1, 1e-5);
      Tensor apart = NormOps.batchNorm(channelsLast(x), null, null, w, Tensor.zeros(3), true, 0.1, 1e-5).relu();
      double[] f = fused.toDoubleArray();
      double[] a = apart.toDoubleArray();
      int nan = 0;
      for (int i = 0; i < f.length; i++) {
        assertTrue(Double.compare(f[i], a[i]) == 0 || Math.abs(f[i] - a[i]) < 1e-4,
            "element " + i + ": " + f[i] + " against " + a[i]);
        nan += Double.isNaN(a[i]) ? 1 : 0;
      }
      assertTrue(nan > 0, "the reference has NaN outputs");
    }
  }

  private static Tensor channelsLast(Tensor t) {
    return Tensor.of(Layout.uninitializedChannelsLast(DataType.FLOAT, t.shape()).assign(t.data()));
  }
}
