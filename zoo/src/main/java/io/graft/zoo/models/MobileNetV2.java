package io.graft.zoo.models;

import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.random.Rng;
import io.graft.layers.Dropout;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.Sequential;
import io.graft.layers.activation.ReLU6;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.BatchNorm2d;
import io.graft.layers.pool.AdaptiveAvgPool2d;

/**
 * torchvision's MobileNetV2 (width 1.0): {@code features.0} conv-BN-ReLU6, 17 inverted residual blocks
 * ({@code features.N.conv.*}), {@code features.18} 1×1 conv to 1280, then global average pooling and
 * {@code classifier} = Dropout(0.2), Linear(1280, classes). Initialisation as torchvision.
 *
 * @see <a href="https://pytorch.org/vision/0.14/models/mobilenetv2.html">torchvision MobileNetV2</a>
 */
@HoldsNoIntermediates
public final class MobileNetV2 extends Module implements Classifier {
  private static final int[][] SETTING = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1},
      {6, 160, 3, 2}, {6, 320, 1, 1}};

  private final Sequential features;
  private final AdaptiveAvgPool2d pool = new AdaptiveAvgPool2d(1);
  private final Sequential classifier;

  /**
   * torchvision's {@code mobilenet_v2(num_classes=numClasses)}, initialised as torchvision from {@link
   * Init#defaultRng()}; throws {@link io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public MobileNetV2(int numClasses) {
    Rng rng = Init.defaultRng();
    features = registerModule("features", new Sequential(convBnRelu6(3, 32, 3, 2, 1, rng)));
    int in = 32;
    for (int[] s : SETTING) {
      for (int i = 0; i < s[2]; i++) {
        features.add(new InvertedResidual(in, s[1], i == 0 ? s[3] : 1, s[0], rng));
        in = s[1];
      }
    }
    features.add(convBnRelu6(in, 1280, 1, 1, 1, rng));
    Linear fc = new Linear(1280, numClasses, true, rng);
    Init.normal(fc.weight(), 0, 0.01, rng);
    Init.zeros(fc.bias());
    classifier = registerModule("classifier", new Sequential(new Dropout(0.2), fc));
  }

  static Conv2d conv(int in, int out, int k, int stride, int groups, Rng rng) {
    return ResNet.conv(in, out, k, stride, (k - 1) / 2, groups, rng);
  }

  /** torchvision's Conv2dNormActivation with ReLU6: keys {@code 0.weight}, {@code 1.*}. */
  static Sequential convBnRelu6(int in, int out, int k, int stride, int groups, Rng rng) {
    return new Sequential(conv(in, out, k, stride, groups, rng), new BatchNorm2d(out), new ReLU6());
  }

  @Override
  public String headPath() {
    return "classifier.1";
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    return classifier.call(pool.forward(features.call(x)).flatten(1, -1));
  }

  /** Expand (1×1) → depthwise 3×3 → project (1×1, linear), with a residual when shapes allow. */
  @HoldsNoIntermediates
  public static final class InvertedResidual extends Module {
    private final Sequential conv;
    private final boolean residual;

    InvertedResidual(int in, int out, int stride, int expandRatio, Rng rng) {
      int hidden = Math.round(in * (float) expandRatio);
      residual = stride == 1 && in == out;
      Sequential layers = new Sequential();
      if (expandRatio != 1) {
        layers.add(convBnRelu6(in, hidden, 1, 1, 1, rng));
      }
      layers.add(convBnRelu6(hidden, hidden, 3, stride, hidden, rng));
      layers.add(conv(hidden, out, 1, 1, 1, rng));
      layers.add(new BatchNorm2d(out));
      conv = registerModule("conv", layers);
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor y = conv.call(x);
      return residual ? x.add(y) : y;
    }
  }
}
