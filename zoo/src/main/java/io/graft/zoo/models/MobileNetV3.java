package io.graft.zoo.models;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.random.Rng;
import io.graft.layers.Dropout;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.Sequential;
import io.graft.layers.activation.Hardsigmoid;
import io.graft.layers.activation.Hardswish;
import io.graft.layers.activation.ReLU;
import io.graft.layers.block.SqueezeExcitation;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.BatchNorm;
import io.graft.layers.pool.AdaptiveAvgPool2d;

/**
 * torchvision's MobileNetV3 (Large and Small, width 1.0): {@code features.0} conv 3×3/2-BN-Hardswish, one inverted
 * residual per row of the paper's table ({@code features.N.block.*}: expand 1×1 (when the expanded width differs),
 * depthwise k×k, optional {@link SqueezeExcitation} (ReLU / Hardsigmoid, squeeze = the expanded width / 4 rounded to
 * a multiple of 8), project 1×1; residual when stride 1 and in = out; ReLU or Hardswish per row), a last conv
 * 1×1-BN-Hardswish to 6 × the last width, global average pooling, {@code classifier} = Linear, Hardswish, Dropout,
 * Linear (head {@code classifier.3}). BatchNorm eps 0.001, momentum 0.01, as torchvision.
 *
 * <p>Stages (finetune's generic rule): {@code features.0} ... {@code features.16} (Large) or {@code features.12}
 * (Small), then {@code classifier.0}.
 *
 * <p>Initialisation as torchvision: convolutions kaiming-normal fan_out with zero bias, BatchNorm 1/0, Linears
 * normal(0, 0.01) with zero bias.
 *
 * @see <a href="https://pytorch.org/vision/0.14/models/mobilenetv3.html">torchvision MobileNetV3</a>
 */
@HoldsNoIntermediates
public final class MobileNetV3 extends Module implements Classifier {
  /** Per block: input, kernel, expanded, output channels, squeeze-excitation (1/0), Hardswish (1/0), stride. */
  private static final int[][] LARGE = {{16, 3, 16, 16, 0, 0, 1}, {16, 3, 64, 24, 0, 0, 2}, {24, 3, 72, 24, 0, 0, 1},
      {24, 5, 72, 40, 1, 0, 2}, {40, 5, 120, 40, 1, 0, 1}, {40, 5, 120, 40, 1, 0, 1}, {40, 3, 240, 80, 0, 1, 2},
      {80, 3, 200, 80, 0, 1, 1}, {80, 3, 184, 80, 0, 1, 1}, {80, 3, 184, 80, 0, 1, 1}, {80, 3, 480, 112, 1, 1, 1},
      {112, 3, 672, 112, 1, 1, 1}, {112, 5, 672, 160, 1, 1, 2}, {160, 5, 960, 160, 1, 1, 1},
      {160, 5, 960, 160, 1, 1, 1}};
  private static final int[][] SMALL = {{16, 3, 16, 16, 1, 0, 2}, {16, 3, 72, 24, 0, 0, 2}, {24, 3, 88, 24, 0, 0, 1},
      {24, 5, 96, 40, 1, 1, 2}, {40, 5, 240, 40, 1, 1, 1}, {40, 5, 240, 40, 1, 1, 1}, {40, 5, 120, 48, 1, 1, 1},
      {48, 5, 144, 48, 1, 1, 1}, {48, 5, 288, 96, 1, 1, 2}, {96, 5, 576, 96, 1, 1, 1}, {96, 5, 576, 96, 1, 1, 1}};

  private final Sequential features;
  private final AdaptiveAvgPool2d avgpool;
  private final Sequential classifier;

  /** torchvision's {@code mobilenet_v3_large(num_classes=numClasses)} (last channel 1280, dropout 0.2). */
  public static MobileNetV3 large(int numClasses) {
    return new MobileNetV3(LARGE, 1280, 0.2, numClasses);
  }

  /** torchvision's {@code mobilenet_v3_small(num_classes=numClasses)} (last channel 1024, dropout 0.2). */
  public static MobileNetV3 small(int numClasses) {
    return new MobileNetV3(SMALL, 1024, 0.2, numClasses);
  }

  private MobileNetV3(int[][] setting, int lastChannel, double dropout, int numClasses) {
    if (numClasses < 1) {
      throw new GraftException("MobileNetV3: num_classes must be positive, got " + numClasses);
    }
    Rng rng = Init.defaultRng();
    BatchNorm.Options bn = BatchNorm.Options.defaults().withEps(0.001).withMomentum(0.01);
    features = registerModule("features",
        new Sequential(ConvNormActivation.of(3, setting[0][0], 3, 2, 1, bn, new Hardswish(), rng)));
    for (int[] s : setting) {
      features.add(new InvertedResidual(s[0], s[1], s[2], s[3], s[4] == 1, s[5] == 1, s[6], bn, rng));
    }
    int lastIn = setting[setting.length - 1][3];
    int lastOut = 6 * lastIn;
    features.add(ConvNormActivation.of(lastIn, lastOut, 1, 1, 1, bn, new Hardswish(), rng));
    avgpool = registerModule("avgpool", new AdaptiveAvgPool2d(1));
    Linear fc1 = linear(lastOut, lastChannel, rng);
    Linear fc2 = linear(lastChannel, numClasses, rng);
    classifier = registerModule("classifier", new Sequential(fc1, new Hardswish(), new Dropout(dropout), fc2));
  }

  private static Linear linear(int in, int out, Rng rng) {
    Linear l = new Linear(in, out, true, rng);
    Init.normal(l.weight(), 0, 0.01, rng);
    Init.zeros(l.bias());
    return l;
  }

  @Override
  public String headPath() {
    return "classifier.3";
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    return classifier.call(avgpool.call(features.call(x)).flatten(1, -1));
  }

  /**
   * MobileNetV3's inverted residual: {@code block} = [expand 1×1-BN-act], depthwise k×k-BN-act,
   * [SqueezeExcitation], project 1×1-BN, with a residual when stride 1 and in = out.
   */
  @HoldsNoIntermediates
  public static final class InvertedResidual extends Module {
    private final Sequential block;
    private final boolean residual;

    InvertedResidual(int in, int kernel, int expanded, int out, boolean se, boolean hardswish, int stride,
        BatchNorm.Options bn, Rng rng) {
      residual = stride == 1 && in == out;
      Sequential layers = new Sequential();
      if (expanded != in) {
        layers.add(ConvNormActivation.of(in, expanded, 1, 1, 1, bn, activation(hardswish), rng));
      }
      layers.add(ConvNormActivation.of(expanded, expanded, kernel, stride, expanded, bn, activation(hardswish), rng));
      if (se) {
        SqueezeExcitation s = new SqueezeExcitation(expanded, ConvNormActivation.makeDivisible(expanded / 4, 8, 8),
            new ReLU(), new Hardsigmoid(), rng);
        for (Conv2d c : new Conv2d[] {s.fc1(), s.fc2()}) {
          Init.kaimingNormal(c.weight(), 0, "fan_out", "relu", rng);
          Init.zeros(c.bias());
        }
        layers.add(s);
      }
      layers.add(ConvNormActivation.of(expanded, out, 1, 1, 1, bn, null, rng));
      block = registerModule("block", layers);
    }

    private static Module activation(boolean hardswish) {
      return hardswish ? new Hardswish() : new ReLU();
    }

    /** Whether the block adds its input to the branch (stride 1 and as many channels out as in). */
    public boolean residual() {
      return residual;
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor y = block.call(x);
      return residual ? y.add(x) : y;
    }
  }
}
