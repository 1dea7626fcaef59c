package io.graft.core.ops;

import static io.graft.testing.TensorAssert.assertIdentical;

import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import org.junit.jupiter.api.Test;

class ActivationOpsTest {
  @Test
  void oneDnnReluEqualsLibnd4jIncludingZerosAndViews() {
    // float32 runs oneDNN's eltwise kernels; libnd4j's relu / relu_bp are the reference: identical results, with
    // exact zeros in the input (gradient 0 there, as PyTorch's threshold_backward) and a non-contiguous view
    Rng rng = new Rng(61);
    Tensor base = Tensor.randn(rng, 3, 5, 7, 9);
    org.nd4j.linalg.api.ndarray.INDArray d = base.data().dup('c');
    for (long i = 0; i < d.length(); i += 5) {
      d.putScalar(i, 0);
    }
    Tensor withZeros = Tensor.of(d);
    Tensor view = ShapeOps.slice(withZeros, 1, 1, 4, 1);
    for (Tensor x : new Tensor[] {withZeros, view}) {
      Tensor g = Tensor.randn(new Rng(67), x.shape());
      Tensor[] y = new Tensor[2];
      Tensor[] gx = new Tensor[2];
      for (int path = 0; path < 2; path++) {
        Tensor xi = Tensor.of(x.data().dup('c')).requiresGrad(true);
        Tensor in = x == view ? ShapeOps.slice(ShapeOps.cat(1, xi, xi), 1, 0, 3, 1) : xi;
        y[path] = ActivationOps.relu(in, path == 0);
        y[path].backward(g);
        gx[path] = xi.grad();
      }
      assertIdentical(y[0], y[1], "relu output");
      assertIdentical(gx[0], gx[1], "relu input gradient");
    }
  }
}
