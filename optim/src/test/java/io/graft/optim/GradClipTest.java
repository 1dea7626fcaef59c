package io.graft.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.graft.core.Parameter;
import io.graft.core.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class GradClipTest {
  static Parameter param(float[] grad) {
    Parameter p = new Parameter(Tensor.zeros(grad.length).data());
    p.setGrad(Tensor.fromArray(grad, grad.length));
    return p;
  }

  @Test
  void clipsByGlobalNormOverTrainableParameters() {
    Parameter a = param(new float[] {3, 0});
    Parameter b = param(new float[] {0, 4});
    Parameter frozen = param(new float[] {100, 100});
    frozen.requiresGrad(false);
    double total = GradClip.clipGradNorm(List.of(a, b, frozen), 1.0);
    assertEquals(5.0, total, 1e-6);
    double c = 1.0 / (5 + 1e-6);
    assertArrayEquals(new float[] {(float) (3 * c), 0}, a.grad().toFloatArray(), 1e-7f);
    assertArrayEquals(new float[] {0, (float) (4 * c)}, b.grad().toFloatArray(), 1e-7f);
    assertArrayEquals(new float[] {100, 100}, frozen.grad().toFloatArray());
    assertEquals(1.0, GradClip.clipGradNorm(List.of(a, b), 10.0), 1e-5, "below the limit: unchanged");
    assertEquals(4.0 * c, GradClip.clipGradNorm(List.of(a, b), 10.0, Double.POSITIVE_INFINITY), 1e-6);
  }

  @Test
  void clipsByValue() {
    Parameter a = param(new float[] {3, -0.5f, -7});
    GradClip.clipGradValue(List.of(a), 1.0);
    assertArrayEquals(new float[] {1, -0.5f, -1}, a.grad().toFloatArray());
  }
}
