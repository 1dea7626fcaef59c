package io.graft.core.autograd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.ShapeException;
import io.graft.core.Tensor;
import org.junit.jupiter.api.Test;

class AutogradTest {
  static Tensor leaf(double... v) {
    return Tensor.fromArray(v, v.length).requiresGrad(true);
  }

  @Test
  void reusedTensorAccumulatesTheSumOfItsGradients() {
    Tensor x = leaf(1, 2, 3);
    x.mul(x).add(x).sum().backward();           // d/dx (x² + x) = 2x + 1
    assertArrayEquals(new double[] {3, 5, 7}, x.grad().toDoubleArray());
  }

  @Test
  void gradientsThatShareMemorySurviveTheEarlyReleaseOfSpentOnes() {
    // add hands its incoming gradient to both inputs, reshape hands on a view of it, relu and mul allocate fresh
    // ones: backward frees spent gradients at once, and must never free one still pending under another name
    Tensor x = Tensor.fromArray(new float[] {-1, 2, 3, -4, 5, 6}, 2, 3).requiresGrad(true);
    Tensor r = x.relu();
    Tensor u = r.add(r);                                  // u = 2 relu(x)
    Tensor v = u.reshape(3, 2).mul(3.0);                  // 6 relu(x)
    Tensor w = u.add(v.reshape(2, 3)).mul(u);             // (2 relu + 6 relu) * 2 relu = 16 relu²
    w.sum().add(u.sum()).backward();                      // d/dx = (32 relu + 2) * step(x)
    assertArrayEquals(new double[] {0, 66, 98, 0, 162, 194}, x.grad().toDoubleArray());
  }

  @Test
  void gradientsAccumulateAcrossBackwardCalls() {
    Tensor x = leaf(1, 2);
    x.mul(3.0).sum().backward();
    x.mul(3.0).sum().backward();                // 3 + 3
    assertArrayEquals(new double[] {6, 6}, x.grad().toDoubleArray());
    x.setGrad(null);
    assertNull(x.grad());
  }

  @Test
  void secondBackwardThroughAFreedGraphIsAClearError() {
    Tensor x = leaf(1, 2);
    Tensor y = x.exp().sum();
    y.backward();
    GraftException e = assertThrows(GraftException.class, y::backward);
    assertTrue(e.getMessage().contains("already freed"), e.getMessage());
    assertTrue(e.getMessage().contains("sum"), e.getMessage());
  }

  @Test
  void retainedGraphCanBeBackpropagatedTwice() {
    Tensor x = leaf(1, 2);
    Tensor y = x.mul(x).sum();
    Tensor one = Tensor.scalar(org.nd4j.linalg.api.buffer.DataType.DOUBLE, 1);
    y.backward(one, true);
    y.backward(one, false);                     // 2 * 2x
    assertArrayEquals(new double[] {4, 8}, x.grad().toDoubleArray());
    assertThrows(GraftException.class, () -> y.backward(one));
  }

  @Test
  void noGradScopeRecordsNothingAndRestoresTheMode() {
    Tensor x = leaf(1, 2);
    try (var g = GradMode.disabled()) {
      Tensor y = x.mul(2.0);
      assertFalse(y.requiresGrad());
      assertNull(y.gradFn());
      try (var inner = GradMode.enabled()) {
        assertTrue(x.mul(2.0).requiresGrad());
      }
      assertFalse(GradMode.isEnabled());
    }
    assertTrue(GradMode.isEnabled());
  }

  @Test
  void noGraphIsRecordedWhenNoInputRequiresGrad() {
    Tensor a = Tensor.fromArray(new double[] {1, 2}, 2);
    Tensor b = Tensor.fromArray(new double[] {3, 4}, 2);
    Tensor y = a.mul(b).exp().sum();
    assertNull(y.gradFn());
    assertFalse(y.requiresGrad());
    assertThrows(GraftException.class, y::backward);
  }

  @Test
  void frozenInputGetsNoGradientAndIsNotKeptInTheNode() {
    Tensor w = leaf(1, 2);
    Tensor frozen = Tensor.fromArray(new double[] {5, 6}, 2);
    Tensor y = w.mul(frozen);
    assertEquals(1, y.gradFn().inputs().length);
    y.sum().backward();
    assertNull(frozen.grad());
    assertArrayEquals(new double[] {5, 6}, w.grad().toDoubleArray());
  }

  @Test
  void detachCutsTheGraph() {
    Tensor x = leaf(1, 2);
    Tensor d = x.mul(2.0).detach();
    assertTrue(d.isLeaf());
    assertFalse(d.requiresGrad());
    x.mul(d).sum().backward();                  // d is a constant 2x
    assertArrayEquals(new double[] {2, 4}, x.grad().toDoubleArray());
  }

  @Test
  void intermediateTensorsKeepNoGradient() {
    Tensor x = leaf(1, 2);
    Tensor mid = x.mul(2.0);
    mid.sum().backward();
    assertNull(mid.grad());
    assertArrayEquals(new double[] {2, 2}, x.grad().toDoubleArray());
  }

  @Test
  void tenThousandOpChainDoesNotOverflowTheStack() {
    Tensor x = leaf(1);
    Tensor y = x;
    for (int i = 0; i < 10_000; i++) {
      y = y.mul(1.0001);
    }
    y.sum().backward();
    assertEquals(Math.pow(1.0001, 10_000), x.grad().item(), 1e-9);
  }

  @Test
  void backwardOfANonScalarNeedsAGradientOfTheSameShape() {
    Tensor x = leaf(1, 2);
    Tensor y = x.mul(2.0);
    assertThrows(ShapeException.class, y::backward);
    ShapeException e = assertThrows(ShapeException.class, () -> y.backward(Tensor.fromArray(new double[] {1}, 1)));
    assertTrue(e.getMessage().contains("[1]") && e.getMessage().contains("[2]"), e.getMessage());
    y.backward(Tensor.fromArray(new double[] {1, 10}, 2));
    assertArrayEquals(new double[] {2, 20}, x.grad().toDoubleArray());
  }

  @Test
  void onlyLeavesCanChangeRequiresGrad() {
    Tensor x = leaf(1, 2);
    Tensor y = x.mul(2.0);
    assertThrows(GraftException.class, () -> y.requiresGrad(false));
    assertThrows(GraftException.class, () -> Tensor.fromArray(new long[] {1}, 1).requiresGrad(true));
  }

  @Test
  void leavesSharingOneGradientGetArraysOfTheirOwn() {
    // add hands the same gradient array to both inputs: at most one leaf may keep it, the other needs a copy
    Tensor a = leaf(1, 2, 3);
    Tensor b = leaf(4, 5, 6);
    Tensor two = Tensor.fromArray(new double[] {2, 2, 2}, 3);
    a.add(b).mul(two).sum().backward();   // mul's gradient for a + b is an array Graft allocated, shared by a and b
    assertArrayEquals(new double[] {2, 2, 2}, a.grad().toDoubleArray());
    a.grad().data().addi(10);
    assertArrayEquals(new double[] {2, 2, 2}, b.grad().toDoubleArray());
    // a second backward accumulates into the gradients, each on its own
    a.add(b).mul(two).sum().backward();
    assertArrayEquals(new double[] {14, 14, 14}, a.grad().toDoubleArray());
    assertArrayEquals(new double[] {4, 4, 4}, b.grad().toDoubleArray());
  }

  @Test
  void gradientsOutliveAReleaseScopeAroundBackward() {
    Tensor w = leaf(1, -2, 3);
    try (io.graft.core.NativeMemory.Scope scope = io.graft.core.NativeMemory.openScope()) {
      w.mul(w).mul(Tensor.fromArray(new double[] {3, 3, 3}, 3)).sum().backward();
    }
    assertFalse(w.grad().data().wasClosed());
    assertArrayEquals(new double[] {6, -12, 18}, w.grad().toDoubleArray());
  }

  @Test
  void clearGradKeepsAGradientNeverHandedOutForTheNextBackwardAndLeavesOneThatWas() {
    Tensor w = leaf(1, -2, 3);
    w.mul(w).sum().backward();
    org.nd4j.linalg.api.ndarray.INDArray kept = w.gradData();
    w.clearGrad();                                  // only backward held it: kept for the next backward
    assertNull(w.grad());
    assertNull(w.gradData());
    assertFalse(kept.wasClosed());
    w.mul(w).mul(2.0).sum().backward();             // overwritten, not added to: it counts as zeroed
    assertSame(kept, w.gradData());
    assertArrayEquals(new double[] {4, -8, 12}, w.gradData().dup().data().asDouble());
    w.clearGrad();
    w.mul(w).sum().backward();
    Tensor handedOut = w.grad();
    w.clearGrad();                                  // the caller holds it: it keeps its values (PyTorch 2.x)
    assertNull(w.grad());
    assertArrayEquals(new double[] {2, -4, 6}, handedOut.toDoubleArray());
    Tensor supplied = Tensor.fromArray(new double[] {7, 8, 9}, 3);
    w.setGrad(supplied);
    w.clearGrad();
    assertArrayEquals(new double[] {7, 8, 9}, supplied.toDoubleArray());
  }

  @Test
  void aCopiedGradientIsTheLeafsOwnAndOutlivesAScope() {
    // add hands one array to a and b: a keeps it, b gets a copy, made inside a release scope that must not free it
    Tensor a = leaf(1, 2);
    Tensor b = leaf(3, 4);
    try (io.graft.core.NativeMemory.Scope scope = io.graft.core.NativeMemory.openScope()) {
      a.add(b).mul(Tensor.fromArray(new double[] {5, 5}, 2)).sum().backward();
    }
    assertArrayEquals(new double[] {5, 5}, a.grad().toDoubleArray());
    assertArrayEquals(new double[] {5, 5}, b.grad().toDoubleArray());
    Tensor c = leaf(1, 2);
    c.mul(2.0).sum().backward();
    c.mul(2.0).sum().backward();                    // accumulated in place into the first (adopted) gradient
    org.nd4j.linalg.api.ndarray.INDArray acc = c.gradData();
    c.clearGrad();
    assertFalse(acc.wasClosed());                   // kept for the next backward
    c.requiresGrad(false);
    c.clearGrad();                                  // a frozen leaf frees it
    assertTrue(acc.wasClosed());
  }

  static void assertArrayEquals(double[] expected, double[] actual) {
    org.junit.jupiter.api.Assertions.assertArrayEquals(expected, actual, 1e-12);
  }
}
