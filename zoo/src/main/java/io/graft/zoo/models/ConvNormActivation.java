package io.graft.zoo.models;

import io.graft.core.random.Rng;
import io.graft.layers.Module;
import io.graft.layers.Sequential;
import io.graft.layers.norm.BatchNorm;
import io.graft.layers.norm.BatchNorm2d;

/**
 * torchvision's {@code Conv2dNormActivation} as the zoo builds it: a {@link Sequential} of a bias-free convolution
 * (padding {@code (k - 1) / 2}, kaiming-normal fan_out), a BatchNorm2d with the family's options and, unless null,
 * an activation; keys {@code 0.weight}, {@code 1.*}.
 */
final class ConvNormActivation {
  private ConvNormActivation() {}

  /** Conv(k, stride, groups) → BatchNorm2d(bn) → activation (left out when null). */
  static Sequential of(int in, int out, int k, int stride, int groups, BatchNorm.Options bn, Module activation,
      Rng rng) {
    Sequential s = new Sequential(ResNet.conv(in, out, k, stride, (k - 1) / 2, groups, rng), new BatchNorm2d(out, bn));
    if (activation != null) {
      s.add(activation);
    }
    return s;
  }

  /**
   * torchvision's {@code _make_divisible(v, divisor, min_value)}: {@code v} rounded to the nearest multiple of {@code
   * divisor} (at least {@code minValue}), one multiple more when rounding lost over 10%.
   */
  static int makeDivisible(double v, int divisor, int minValue) {
    int rounded = Math.max(minValue, (int) (v + divisor / 2.0) / divisor * divisor);
    return rounded < 0.9 * v ? rounded + divisor : rounded;
  }
}
