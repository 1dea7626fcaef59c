package io.graft.core.backend;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.graft.core.Tensor;
import io.graft.core.ops.LayerNormOps;
import io.graft.core.random.Rng;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * oneDNN's layer norm ({@link OneDnnLayerNorm}) against the composed libnd4j form in float64, forward and all
 * gradients, with and without weight and bias, for C-ordered and strided input and a ViT-sized row.
 */
class OneDnnLayerNormTest {
  private static final boolean ON = Boolean.parseBoolean(System.getProperty(OneDnn.PROPERTY, "true"))
      && System.getProperty("os.name").startsWith("Linux") && System.getProperty("os.arch").equals("amd64");

  @Test
  void layerNormEqualsLibnd4jFloat64() {
    long[][] shapes = {{2, 5, 16}, {3, 197, 768}, {4, 7}};
    for (long[] shape : shapes) {
      for (int variant = 0; variant < 6; variant++) {
        boolean weight = (variant & 1) == 0;
        boolean bias = (variant & 2) == 0 && variant < 4;
        boolean strided = variant >= 4;
        long d = shape[shape.length - 1];
        String what = java.util.Arrays.toString(shape) + (weight ? " weight" : "") + (bias ? " bias" : "")
            + (strided ? " strided" : "");
        Rng rng = new Rng(3 + variant);
        Tensor x = Tensor.randn(rng, shape).mul(2).add(0.5);
        Tensor w = weight ? Tensor.randn(rng, d) : null;
        Tensor b = bias ? Tensor.randn(rng, d) : null;
        Tensor g = Tensor.randn(rng, shape);
        Tensor[] r32 = run(x, w, b, g, DataType.FLOAT, strided, what);
        Tensor[] r64 = run(x, w, b, g, DataType.DOUBLE, strided, what);
        for (int i = 0; i < 4; i++) {
          if (r64[i] != null) {
            double scale = Math.max(1, r64[i].data().amaxNumber().doubleValue());
            assertClose(r32[i], r64[i], 1e-5 * scale, 1e-4, what + " result " + i);
          }
        }
      }
    }
  }

  private static Tensor[] run(Tensor x0, Tensor w0, Tensor b0, Tensor g, DataType dtype, boolean strided,
      String what) {
    Tensor xs = Tensor.of(x0.data().castTo(dtype).dup('c')).requiresGrad(true);
    Tensor w = w0 == null ? null : Tensor.of(w0.data().castTo(dtype).dup('c')).requiresGrad(true);
    Tensor b = b0 == null ? null : Tensor.of(b0.data().castTo(dtype).dup('c')).requiresGrad(true);
    long d = x0.shape()[x0.rank() - 1];
    long m = x0.numel() / d;
    if (dtype == DataType.FLOAT && ON) {
      assertSame(Backends.ONEDNN, Backends.layerNorm(m, d, w != null, b != null, 1e-5, true), what + ": oneDNN");
    }
    // strided: the same values read through a transposed view of a transposed copy
    Tensor x = strided ? Tensor.of(xs.data().transpose().dup('c').transpose()).requiresGrad(true) : xs;
    Tensor y = LayerNormOps.layerNorm(x, new long[] {d}, w, b, 1e-5);
    y.backward(g.to(dtype));
    return new Tensor[] {y, x.grad(), w == null ? null : w.grad(), b == null ? null : b.grad()};
  }
}
