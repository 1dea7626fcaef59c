package io.graft.zoo.models;

import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.random.Rng;
import io.graft.layers.Dropout;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.Sequential;
import io.graft.layers.activation.ReLU;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.BatchNorm2d;
import io.graft.layers.pool.AdaptiveAvgPool2d;
import io.graft.layers.pool.MaxPool2d;

/**
 * torchvision's VGG 11/13/16/19, with or without BatchNorm: {@code features.N} (convs, BN, ReLU, max-pools
 * indexed as in torchvision), {@code avgpool} to 7×7, {@code classifier.0/3/6} Linear layers with ReLU and
 * Dropout between. Initialisation as torchvision: convs kaiming_normal fan_out/relu with zero bias, Linear
 * N(0, 0.01) with zero bias.
 *
 * @see <a href="https://pytorch.org/vision/0.14/models/vgg.html">torchvision VGG</a>
 */
@HoldsNoIntermediates
public final class VGG extends Module implements Classifier {
  private static final int M = -1;
  static final int[] A = {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
  static final int[] B = {64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
  static final int[] D = {64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M};
  static final int[] E = {64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512, 512, M, 512, 512, 512, 512,
      M};

  private final Sequential features;
  private final AdaptiveAvgPool2d avgpool;
  private final Sequential classifier;

  /**
   * torchvision's {@code vgg11(num_classes=numClasses)} (without BatchNorm), freshly initialised; throws {@link
   * io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public static VGG vgg11(int numClasses) {
    return new VGG(A, false, numClasses);
  }

  /**
   * torchvision's {@code vgg11_bn(num_classes=numClasses)} (with BatchNorm after every conv), freshly initialised;
   * throws {@link io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public static VGG vgg11Bn(int numClasses) {
    return new VGG(A, true, numClasses);
  }

  /**
   * torchvision's {@code vgg13(num_classes=numClasses)} (without BatchNorm), freshly initialised; throws {@link
   * io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public static VGG vgg13(int numClasses) {
    return new VGG(B, false, numClasses);
  }

  /**
   * torchvision's {@code vgg13_bn(num_classes=numClasses)} (with BatchNorm after every conv), freshly initialised;
   * throws {@link io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public static VGG vgg13Bn(int numClasses) {
    return new VGG(B, true, numClasses);
  }

  /**
   * torchvision's {@code vgg16(num_classes=numClasses)} (without BatchNorm), freshly initialised; throws {@link
   * io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public static VGG vgg16(int numClasses) {
    return new VGG(D, false, numClasses);
  }

  /**
   * torchvision's {@code vgg16_bn(num_classes=numClasses)} (with BatchNorm after every conv), freshly initialised;
   * throws {@link io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public static VGG vgg16Bn(int numClasses) {
    return new VGG(D, true, numClasses);
  }

  /**
   * torchvision's {@code vgg19(num_classes=numClasses)} (without BatchNorm), freshly initialised; throws {@link
   * io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public static VGG vgg19(int numClasses) {
    return new VGG(E, false, numClasses);
  }

  /**
   * torchvision's {@code vgg19_bn(num_classes=numClasses)} (with BatchNorm after every conv), freshly initialised;
   * throws {@link io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public static VGG vgg19Bn(int numClasses) {
    return new VGG(E, true, numClasses);
  }

  private VGG(int[] cfg, boolean batchNorm, int numClasses) {
    Rng rng = Init.defaultRng();
    features = registerModule("features", new Sequential());
    int in = 3;
    for (int v : cfg) {
      if (v == M) {
        features.add(new MaxPool2d(2, 2, 0));
        continue;
      }
      Conv2d c = new Conv2d(in, v, 3, Conv2d.Options.defaults().withPadding(1).withRng(rng));
      Init.kaimingNormal(c.weight(), 0, "fan_out", "relu", rng);
      Init.zeros(c.bias());
      features.add(c);
      if (batchNorm) {
        features.add(new BatchNorm2d(v));
      }
      features.add(new ReLU());
      in = v;
    }
    avgpool = registerModule("avgpool", new AdaptiveAvgPool2d(7));
    classifier = registerModule("classifier", new Sequential(linear(512 * 7 * 7, 4096, rng), new ReLU(),
        new Dropout(0.5), linear(4096, 4096, rng), new ReLU(), new Dropout(0.5), linear(4096, numClasses, rng)));
  }

  static Linear linear(long in, long out, Rng rng) {
    Linear l = new Linear(in, out, true, rng);
    Init.normal(l.weight(), 0, 0.01, rng);
    Init.zeros(l.bias());
    return l;
  }

  @Override
  public String headPath() {
    return "classifier.6";
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    return classifier.call(avgpool.call(features.call(x)).flatten(1, -1));
  }
}
