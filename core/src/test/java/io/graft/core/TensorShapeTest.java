package io.graft.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.graft.core.ops.ShapeOps;
import io.graft.core.random.Rng;
import org.junit.jupiter.api.Test;

/** {@link Tensor#shape()} is a copy: editing it to describe a neighbour leaves the tensor and its graph intact. */
class TensorShapeTest {
  @Test
  void editingTheReturnedShapeLeavesTheTensorAlone() {
    Tensor t = Tensor.zeros(2, 3);
    long[] s = t.shape();
    s[0] = 7;
    assertArrayEquals(new long[] {2, 3}, t.shape());
    assertArrayEquals(new long[] {2, 3}, t.data().shape());
  }

  /**
   * Found through Swin's zero padding, which builds the padding's shape from the input's: with a live shape array the
   * input's recorded shape changed, and the backward of cat then refused the gradient it produced for it.
   */
  @Test
  void paddingBuiltFromTheInputsShapeBackpropagates() {
    Tensor x = Tensor.randn(new Rng(1), 1, 1, 1, 8).requiresGrad(true);
    Tensor y = x;
    for (int dim = 1; dim <= 2; dim++) {
      long[] s = y.shape();
      s[dim] = 6;
      y = ShapeOps.cat(dim, y, Tensor.zeros(s));
    }
    y.sum().backward();
    assertArrayEquals(new long[] {1, 1, 1, 8}, x.shape());
    assertArrayEquals(new long[] {1, 1, 1, 8}, x.grad().shape());
  }
}
