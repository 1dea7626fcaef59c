package io.graft.core.init;

import io.graft.core.GraftException;
import io.graft.core.Layout;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.random.Rng;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Weight initialisation with torch.nn.init's names and formulas. Every function fills the tensor in place,
 * under no-grad, from an explicit {@link Rng}.
 *
 * <p>Layers constructed without a generator draw from {@link #defaultRng()}, a process-wide generator that
 * {@link #manualSeed(long)} resets (the analogue of {@code torch.manual_seed}); pass an {@code Rng} to the
 * layer's constructor to keep initialisation independent of construction order elsewhere.
 *
 * @see <a href="https://pytorch.org/docs/stable/nn.init.html">torch.nn.init</a>
 */
public final class Init {
  private static Rng global = new Rng(0);

  private Init() {}

  /** Resets the default generator used by layers constructed without an explicit {@code Rng}. */
  public static synchronized void manualSeed(long seed) {
    global = new Rng(seed);
  }

  /** The process-wide default generator (see {@link #manualSeed}). */
  public static synchronized Rng defaultRng() {
    return global;
  }

  /** {@code (fan_in, fan_out)} of a weight: Linear {@code [out, in]}, Conv {@code [out, in/g, kH, kW]}. */
  public static long[] fans(long[] shape) {
    if (shape.length < 2) {
      throw new GraftException("fan in and fan out need a tensor with at least 2 dimensions, got shape "
          + java.util.Arrays.toString(shape));
    }
    long receptive = 1;
    for (int i = 2; i < shape.length; i++) {
      receptive *= shape[i];
    }
    return new long[] {shape[1] * receptive, shape[0] * receptive};
  }

  /** Gain of torch.nn.init.calculate_gain for 'linear'/'conv' (1), 'relu' (√2), 'leaky_relu' with slope a, 'tanh' (5/3). */
  public static double gain(String nonlinearity, double a) {
    return switch (nonlinearity) {
      case "linear", "conv2d", "sigmoid", "identity" -> 1.0;
      case "relu" -> Math.sqrt(2.0);
      case "leaky_relu" -> Math.sqrt(2.0 / (1 + a * a));
      case "tanh" -> 5.0 / 3;
      case "selu" -> 0.75;
      default -> throw new GraftException("gain: unknown nonlinearity '" + nonlinearity + "'");
    };
  }

  /** U(lo, hi). */
  public static Tensor uniform(Tensor t, double lo, double hi, Rng rng) {
    return fill(t, i -> lo + (hi - lo) * rng.nextDouble());
  }

  /** N(mean, std²). */
  public static Tensor normal(Tensor t, double mean, double std, Rng rng) {
    return fill(t, i -> mean + std * rng.nextGaussian());
  }

  /**
   * Fills {@code t} with {@code v} in place, without recording grad (PyTorch's {@code nn.init.constant_}); returns
   * {@code t}.
   */
  public static Tensor constant(Tensor t, double v) {
    try (var g = GradMode.disabled()) {
      t.data().assign(v);
    }
    return t;
  }

  /** Fills {@code t} with zeros in place (PyTorch's {@code nn.init.zeros_}); returns {@code t}. */
  public static Tensor zeros(Tensor t) {
    return constant(t, 0);
  }

  /** Fills {@code t} with ones in place (PyTorch's {@code nn.init.ones_}); returns {@code t}. */
  public static Tensor ones(Tensor t) {
    return constant(t, 1);
  }

  /**
   * Kaiming (He) uniform: U(-b, b) with {@code b = gain * sqrt(3 / fan)}, {@code gain} of leaky_relu with slope
   * {@code a} ({@code mode} "fan_in" or "fan_out"). PyTorch's default Linear/Conv init is {@code a = √5}, fan_in.
   */
  public static Tensor kaimingUniform(Tensor t, double a, String mode, String nonlinearity, Rng rng) {
    double bound = gain(nonlinearity, a) * Math.sqrt(3.0 / fan(t, mode));
    return uniform(t, -bound, bound, rng);
  }

  /** Kaiming (He) normal: N(0, std²), {@code std = gain / sqrt(fan)}. */
  public static Tensor kaimingNormal(Tensor t, double a, String mode, String nonlinearity, Rng rng) {
    return normal(t, 0, gain(nonlinearity, a) / Math.sqrt(fan(t, mode)), rng);
  }

  /** Xavier (Glorot) uniform: U(-b, b), {@code b = gain * sqrt(6 / (fan_in + fan_out))}. */
  public static Tensor xavierUniform(Tensor t, double gain, Rng rng) {
    long[] f = fans(t.shape());
    double bound = gain * Math.sqrt(6.0 / (f[0] + f[1]));
    return uniform(t, -bound, bound, rng);
  }

  /** Xavier (Glorot) normal: N(0, std²), {@code std = gain * sqrt(2 / (fan_in + fan_out))}. */
  public static Tensor xavierNormal(Tensor t, double gain, Rng rng) {
    long[] f = fans(t.shape());
    return normal(t, 0, gain * Math.sqrt(2.0 / (f[0] + f[1])), rng);
  }

  private static long fan(Tensor t, String mode) {
    long[] f = fans(t.shape());
    return switch (mode) {
      case "fan_in" -> f[0];
      case "fan_out" -> f[1];
      default -> throw new GraftException("kaiming init: mode must be fan_in or fan_out, got '" + mode + "'");
    };
  }

  private interface Source {
    double next(long i);
  }

  private static Tensor fill(Tensor t, Source s) {
    int n = Math.toIntExact(t.numel());
    INDArray a = t.data();
    DataType dt = a.dataType();
    boolean direct = n > 0 && Layout.isCOrdered(a) && a.offset() == 0 && !a.isView() && a.data().length() == n
        && (dt == DataType.FLOAT || dt == DataType.DOUBLE);
    try (var g = GradMode.disabled()) {
      if (direct) {
        // stream samples straight into the native buffer, in chunks: no full-size temporary arrays
        java.nio.ByteBuffer nio = a.data().asNio().order(java.nio.ByteOrder.nativeOrder());
        int chunk = 1 << 16;
        if (dt == DataType.FLOAT) {
          java.nio.FloatBuffer fb = nio.asFloatBuffer();
          float[] buf = new float[Math.min(chunk, n)];
          for (int i = 0; i < n; i += buf.length) {
            int m = Math.min(buf.length, n - i);
            for (int j = 0; j < m; j++) {
              buf[j] = (float) s.next(i + j);
            }
            fb.put(buf, 0, m);
          }
        } else {
          java.nio.DoubleBuffer db = nio.asDoubleBuffer();
          double[] buf = new double[Math.min(chunk, n)];
          for (int i = 0; i < n; i += buf.length) {
            int m = Math.min(buf.length, n - i);
            for (int j = 0; j < m; j++) {
              buf[j] = s.next(i + j);
            }
            db.put(buf, 0, m);
          }
        }
        return t;
      }
      double[] v = new double[n];
      for (int i = 0; i < n; i++) {
        v[i] = s.next(i);
      }
      INDArray src = org.nd4j.linalg.factory.Nd4j.createFromArray(v).castTo(dt);
      a.assign(n == 0 ? src : src.reshape('c', t.shape()));
    }
    return t;
  }
}
