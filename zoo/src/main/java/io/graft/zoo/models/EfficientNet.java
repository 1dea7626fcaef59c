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
import io.graft.layers.StochasticDepth;
import io.graft.layers.activation.SiLU;
import io.graft.layers.activation.Sigmoid;
import io.graft.layers.block.SqueezeExcitation;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.BatchNorm;
import io.graft.layers.pool.AdaptiveAvgPool2d;

/**
 * torchvision's EfficientNet (v1, B0–B3): {@code features.0} conv 3×3/2-BN-SiLU, {@code features.1..7} the seven
 * MBConv stages ({@code features.S.B.block.*}: expand 1×1 (when the ratio is not 1), depthwise k×k, {@link
 * SqueezeExcitation} (SiLU / Sigmoid, squeeze = max(1, in / 4)), project 1×1; residual with row-mode stochastic depth
 * when stride 1 and in = out), {@code features.8} conv 1×1-BN-SiLU to 4 × the last width, global average pooling,
 * {@code classifier} = Dropout, Linear (head {@code classifier.1}). Widths scale by {@code widthMult} (rounded to
 * multiples of 8) and depths by {@code depthMult} (ceil), as torchvision's {@code MBConvConfig}. BatchNorm keeps
 * PyTorch's defaults (eps 1e-5, momentum 0.1): torchvision gives B0–B3 no norm_layer (only B5–B7 use eps 1e-3).
 * Block {@code k} of {@code n} drops its branch with probability {@code stochasticDepthProb · k / n}.
 *
 * <p>Stages (finetune's generic rule): {@code features.0} ... {@code features.8}; the classifier holds only the head.
 *
 * <p>Initialisation as torchvision: convolutions kaiming-normal fan_out with zero bias, BatchNorm 1/0, the Linear
 * uniform ±1/√out with zero bias.
 *
 * @see <a href="https://pytorch.org/vision/0.14/models/efficientnet.html">torchvision EfficientNet</a>
 */
@HoldsNoIntermediates
public final class EfficientNet extends Module implements Classifier {
  /** Per stage: expand ratio, kernel, stride, input channels, output channels, layers (before scaling). */
  private static final int[][] SETTING = {{1, 3, 1, 32, 16, 1}, {6, 3, 2, 16, 24, 2}, {6, 5, 2, 24, 40, 2},
      {6, 3, 2, 40, 80, 3}, {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1}};

  /** The largest width multiplier accepted: torchvision's largest, B7's 2.0 (bounds the model's memory). */
  public static final double MAX_WIDTH_MULT = 2.0;
  /** The largest depth multiplier accepted: torchvision's largest, B7's 3.1. */
  public static final double MAX_DEPTH_MULT = 3.1;

  private final Sequential features;
  private final AdaptiveAvgPool2d avgpool;
  private final Sequential classifier;

  /** torchvision's {@code efficientnet_b0(num_classes=numClasses)} (dropout 0.2, stochastic depth 0.2). */
  public static EfficientNet efficientnetB0(int numClasses) {
    return new EfficientNet(1.0, 1.0, 0.2, 0.2, numClasses);
  }

  /** torchvision's {@code efficientnet_b1(num_classes=numClasses)} (depth × 1.1, dropout 0.2). */
  public static EfficientNet efficientnetB1(int numClasses) {
    return new EfficientNet(1.0, 1.1, 0.2, 0.2, numClasses);
  }

  /** torchvision's {@code efficientnet_b2(num_classes=numClasses)} (width × 1.1, depth × 1.2, dropout 0.3). */
  public static EfficientNet efficientnetB2(int numClasses) {
    return new EfficientNet(1.1, 1.2, 0.3, 0.2, numClasses);
  }

  /** torchvision's {@code efficientnet_b3(num_classes=numClasses)} (width × 1.2, depth × 1.4, dropout 0.3). */
  public static EfficientNet efficientnetB3(int numClasses) {
    return new EfficientNet(1.2, 1.4, 0.3, 0.2, numClasses);
  }

  /**
   * An EfficientNet with torchvision's stage table scaled by {@code widthMult} and {@code depthMult}, the classifier's
   * {@code dropout} and the largest stochastic-depth probability {@code stochasticDepthProb} (torchvision's {@code
   * dropout} and {@code stochastic_depth_prob}; 0 and 0 make training deterministic); throws {@link GraftException}
   * for a multiplier outside (0, {@link #MAX_WIDTH_MULT}] or (0, {@link #MAX_DEPTH_MULT}], a non-positive class
   * count, or a probability outside [0, 1].
   */
  public EfficientNet(double widthMult, double depthMult, double dropout, double stochasticDepthProb,
      int numClasses) {
    if (!(widthMult > 0 && widthMult <= MAX_WIDTH_MULT) || !(depthMult > 0 && depthMult <= MAX_DEPTH_MULT)
        || numClasses < 1) {
      throw new GraftException("EfficientNet: width_mult must be in (0, " + MAX_WIDTH_MULT + "], depth_mult in (0, "
          + MAX_DEPTH_MULT + "] and num_classes positive, got " + widthMult + ", " + depthMult + ", " + numClasses);
    }
    if (!(dropout >= 0 && dropout <= 1) || !(stochasticDepthProb >= 0 && stochasticDepthProb <= 1)) {
      throw new GraftException("EfficientNet: dropout and stochastic_depth_prob must be in [0, 1], got " + dropout
          + " and " + stochasticDepthProb);
    }
    Rng rng = Init.defaultRng();
    BatchNorm.Options bn = BatchNorm.Options.defaults();
    int[][] stages = new int[SETTING.length][];
    int total = 0;
    for (int i = 0; i < SETTING.length; i++) {
      int[] s = SETTING[i];
      stages[i] = new int[] {s[0], s[1], s[2], channels(s[3], widthMult), channels(s[4], widthMult),
          (int) Math.ceil(s[5] * depthMult)};
      total += stages[i][5];
    }
    features = registerModule("features",
        new Sequential(ConvNormActivation.of(3, stages[0][3], 3, 2, 1, bn, new SiLU(), rng)));
    int blockId = 0;
    for (int[] s : stages) {
      Sequential stage = new Sequential();
      for (int i = 0; i < s[5]; i++) {
        int in = i == 0 ? s[3] : s[4];
        double sd = stochasticDepthProb * blockId / total;
        stage.add(new MBConv(s[0], s[1], i == 0 ? s[2] : 1, in, s[4], sd, bn, rng));
        blockId++;
      }
      features.add(stage);
    }
    int lastIn = stages[stages.length - 1][4];
    int lastOut = 4 * lastIn;
    features.add(ConvNormActivation.of(lastIn, lastOut, 1, 1, 1, bn, new SiLU(), rng));
    avgpool = registerModule("avgpool", new AdaptiveAvgPool2d(1));
    Linear fc = new Linear(lastOut, numClasses, true, rng);
    double range = 1 / Math.sqrt(numClasses);
    Init.uniform(fc.weight(), -range, range, rng);
    Init.zeros(fc.bias());
    classifier = registerModule("classifier", new Sequential(new Dropout(dropout), fc));
  }

  private static int channels(int c, double widthMult) {
    return ConvNormActivation.makeDivisible(c * widthMult, 8, 8);
  }

  @Override
  public String headPath() {
    return "classifier.1";
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    return classifier.call(avgpool.call(features.call(x)).flatten(1, -1));
  }

  /**
   * Mobile inverted bottleneck with squeeze-and-excitation: {@code block} = [expand 1×1-BN-SiLU], depthwise
   * k×k-BN-SiLU, SqueezeExcitation, project 1×1-BN; {@code stochastic_depth} on the branch of a residual block.
   */
  @HoldsNoIntermediates
  public static final class MBConv extends Module {
    private final Sequential block;
    private final StochasticDepth stochasticDepth;
    private final boolean residual;

    MBConv(int expandRatio, int kernel, int stride, int in, int out, double sdProb, BatchNorm.Options bn, Rng rng) {
      residual = stride == 1 && in == out;
      int expanded = ConvNormActivation.makeDivisible(in * (double) expandRatio, 8, 8);
      Sequential layers = new Sequential();
      if (expanded != in) {
        layers.add(ConvNormActivation.of(in, expanded, 1, 1, 1, bn, new SiLU(), rng));
      }
      layers.add(ConvNormActivation.of(expanded, expanded, kernel, stride, expanded, bn, new SiLU(), rng));
      SqueezeExcitation se = new SqueezeExcitation(expanded, Math.max(1, in / 4), new SiLU(), new Sigmoid(), rng);
      for (var c : new Conv2d[] {se.fc1(), se.fc2()}) {
        Init.kaimingNormal(c.weight(), 0, "fan_out", "relu", rng);
        Init.zeros(c.bias());
      }
      layers.add(se);
      layers.add(ConvNormActivation.of(expanded, out, 1, 1, 1, bn, null, rng));
      block = registerModule("block", layers);
      stochasticDepth = registerModule("stochastic_depth", new StochasticDepth(sdProb, "row"));
    }

    /** Whether the block adds its input to the branch (stride 1 and as many channels out as in). */
    public boolean residual() {
      return residual;
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor y = block.call(x);
      return residual ? stochasticDepth.call(y).add(x) : y;
    }
  }
}
