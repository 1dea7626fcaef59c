package io.graft.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.random.Rng;
import java.util.Arrays;
import java.util.function.Function;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Finite-difference gradient check in float64, as torch.autograd.gradcheck: central differences with
 * {@code eps = 1e-6}, tolerance {@code |analytic - numeric| <= atol + rtol * |numeric|} with
 * {@code atol = 1e-5, rtol = 1e-3}. The output is reduced with a fixed random projection
 * {@code sum(f(x) * R)} so that every output position is weighted differently.
 */
public final class GradCheck {
  public static final double EPS = 1e-6;
  public static final double ATOL = 1e-5;
  public static final double RTOL = 1e-3;

  private GradCheck() {}

  /** Checks every floating-point input that has {@code requiresGrad} set. Inputs must be float64. */
  public static void assertGradients(String name, Function<Tensor[], Tensor> f, Tensor... inputs) {
    for (Tensor t : inputs) {
      if (t.requiresGrad() && t.dtype() != DataType.DOUBLE) {
        fail(name + ": gradcheck inputs must be float64, got " + t.dtype());
      }
      t.setGrad(null);
    }
    Tensor out = f.apply(inputs);
    Tensor r = Tensor.randn(DataType.DOUBLE, new Rng(99), out.shape());
    out.mul(r).sum().backward();
    boolean any = false;
    for (int k = 0; k < inputs.length; k++) {
      Tensor x = inputs[k];
      if (!x.requiresGrad()) {
        continue;
      }
      any = true;
      assertNotNull(x.grad(), name + ": input " + k + " received no gradient");
      assertEquals(Arrays.toString(x.shape()), Arrays.toString(x.grad().shape()), name + ": gradient shape of input " + k);
      double[] analytic = x.grad().toDoubleArray();
      INDArray data = x.data();
      if (data.ordering() != 'c' || data.isView()) {
        fail(name + ": gradcheck input " + k + " must be a contiguous C-order array");
      }
      for (int j = 0; j < analytic.length; j++) {
        double v = data.getDouble(j);
        double plus;
        double minus;
        try (var g = GradMode.disabled()) {
          data.putScalar(j, v + EPS);
          plus = f.apply(inputs).mul(r).sum().item();
          data.putScalar(j, v - EPS);
          minus = f.apply(inputs).mul(r).sum().item();
        } finally {
          data.putScalar(j, v);
        }
        double numeric = (plus - minus) / (2 * EPS);
        if (Math.abs(analytic[j] - numeric) > ATOL + RTOL * Math.abs(numeric)) {
          fail(String.format("%s: d/d input %d %s at flat index %d: analytic %.8g, numeric %.8g", name, k,
              Arrays.toString(x.shape()), j, analytic[j], numeric));
        }
      }
    }
    if (!any) {
      fail(name + ": no input requires grad");
    }
  }
}
