package io.graft.zoo.models;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.random.Rng;
import io.graft.layers.Flatten;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.Permute;
import io.graft.layers.Sequential;
import io.graft.layers.StochasticDepth;
import io.graft.layers.activation.GELU;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.LayerNorm;
import io.graft.layers.norm.LayerNorm2d;
import io.graft.layers.pool.AdaptiveAvgPool2d;

/**
 * torchvision's ConvNeXt (Tiny: blocks 3-3-9-3, Small: 3-3-27-3, widths 96-192-384-768): {@code features.0} the 4×4
 * stride-4 stem (Conv2d with bias, LayerNorm2d), then stages of CNBlocks ({@code features.1, 3, 5, 7}) with
 * downsampling layers between them ({@code features.2, 4, 6}: LayerNorm2d, 2×2 stride-2 Conv2d), global average
 * pooling and {@code classifier} = LayerNorm2d, Flatten, Linear. A CNBlock is a 7×7 depthwise convolution, Permute to
 * channels-last, LayerNorm, Linear to 4C, GELU, Linear back to C, Permute back ({@code block.0 .. block.6}), scaled by
 * the parameter {@code layer_scale} {@code [C, 1, 1]} (initially 1e-6), through row-mode stochastic depth (probability
 * rising linearly over the blocks from 0 to 0.1 for Tiny, 0.4 for Small; identity in eval mode) and added to the
 * input. LayerNorm eps 1e-6. Keys, shapes, order and initialisation (trunc-normal std 0.02 weights, zero biases) as
 * torchvision 0.14; any input size of at least 32×32.
 *
 * <p>Stages (the finetune module's generic rule: {@code features} expanded, head excluded): {@code features.0} ...
 * {@code features.7}, then {@code classifier.0} (the final LayerNorm2d). The head is {@code classifier.2}.
 *
 * @see <a href="https://pytorch.org/vision/0.14/models/convnext.html">torchvision ConvNeXt</a>
 */
@HoldsNoIntermediates
public final class ConvNeXt extends Module implements Classifier {
  private static final int[] WIDTHS = {96, 192, 384, 768};

  private final Sequential features;
  private final AdaptiveAvgPool2d avgpool = new AdaptiveAvgPool2d(1);
  private final Sequential classifier;

  /** torchvision's {@code convnext_tiny(num_classes=numClasses)}. */
  public static ConvNeXt convnextTiny(int numClasses) {
    return new ConvNeXt(new int[] {3, 3, 9, 3}, 0.1, 1e-6, numClasses);
  }

  /** torchvision's {@code convnext_small(num_classes=numClasses)}. */
  public static ConvNeXt convnextSmall(int numClasses) {
    return new ConvNeXt(new int[] {3, 3, 27, 3}, 0.4, 1e-6, numClasses);
  }

  /**
   * A ConvNeXt with widths 96-192-384-768, {@code blocks[i]} CNBlocks in stage i (four stages), the given stochastic
   * depth probability (reached by the last block) and initial layer scale, initialised as torchvision from {@link
   * Init#defaultRng()}. Throws {@link GraftException} for another number of stages, a non-positive block count or
   * class count, or a probability outside [0, 1].
   */
  public ConvNeXt(int[] blocks, double stochasticDepthProb, double layerScale, int numClasses) {
    if (blocks.length != WIDTHS.length || numClasses < 1 || !(stochasticDepthProb >= 0 && stochasticDepthProb <= 1)) {
      throw new GraftException("ConvNeXt: needs 4 stages, a positive num_classes and stochastic_depth_prob in [0, 1], "
          + "got blocks=" + java.util.Arrays.toString(blocks) + ", num_classes=" + numClasses
          + ", stochastic_depth_prob=" + stochasticDepthProb);
    }
    int total = 0;
    for (int b : blocks) {
      if (b < 1) {
        throw new GraftException("ConvNeXt: every stage needs at least one block, got "
            + java.util.Arrays.toString(blocks));
      }
      total += b;
    }
    Rng rng = Init.defaultRng();
    features = registerModule("features", new Sequential(new Sequential(conv(3, WIDTHS[0], 4, 4, 0, 1, rng),
        new LayerNorm2d(WIDTHS[0], 1e-6))));
    int id = 0;
    for (int s = 0; s < WIDTHS.length; s++) {
      Sequential stage = new Sequential();
      for (int i = 0; i < blocks[s]; i++) {
        double p = total == 1 ? 0 : stochasticDepthProb * id / (total - 1.0);
        stage.add(new CNBlock(WIDTHS[s], layerScale, p, rng));
        id++;
      }
      features.add(stage);
      if (s + 1 < WIDTHS.length) {
        features.add(new Sequential(new LayerNorm2d(WIDTHS[s], 1e-6), conv(WIDTHS[s], WIDTHS[s + 1], 2, 2, 0, 1,
            rng)));
      }
    }
    int last = WIDTHS[WIDTHS.length - 1];
    classifier = registerModule("classifier", new Sequential(new LayerNorm2d(last, 1e-6), new Flatten(1, -1),
        linear(last, numClasses, rng)));
  }

  static Conv2d conv(int in, int out, int k, int stride, int pad, int groups, Rng rng) {
    Conv2d c = new Conv2d(in, out, k, Conv2d.Options.defaults().withStride(stride).withPadding(pad).withGroups(groups)
        .withRng(rng));
    VisionTransformer.truncNormal(c.weight(), 0.02, rng);
    Init.zeros(c.bias());
    return c;
  }

  static Linear linear(int in, int out, Rng rng) {
    Linear l = new Linear(in, out, true, rng);
    VisionTransformer.truncNormal(l.weight(), 0.02, rng);
    Init.zeros(l.bias());
    return l;
  }

  @Override
  public String headPath() {
    return "classifier.2";
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    return classifier.call(avgpool.call(features.call(x)));
  }

  /**
   * torchvision's CNBlock: {@code layer_scale * block(x)}, stochastic depth, plus x. Keys {@code layer_scale}, {@code
   * block.0.*} (depthwise 7×7), {@code block.2.*} (LayerNorm), {@code block.3.*}, {@code block.5.*} (Linears).
   */
  @HoldsNoIntermediates
  public static final class CNBlock extends Module {
    private final Parameter layerScale;
    private final Sequential block;
    private final StochasticDepth stochasticDepth;

    CNBlock(int dim, double layerScale, double stochasticDepthProb, Rng rng) {
      this.layerScale = registerParameter("layer_scale", new Parameter(Tensor.full(layerScale, dim, 1, 1).data()));
      block = registerModule("block", new Sequential(conv(dim, dim, 7, 1, 3, dim, rng), new Permute(0, 2, 3, 1),
          new LayerNorm(new long[] {dim}, 1e-6, true), linear(dim, 4 * dim, rng), new GELU(), linear(4 * dim, dim, rng),
          new Permute(0, 3, 1, 2)));
      stochasticDepth = registerModule("stochastic_depth", new StochasticDepth(stochasticDepthProb, "row", rng.fork()));
    }

    /** The per-channel scale of the residual branch, {@code [C, 1, 1]}. */
    public Parameter layerScale() {
      return layerScale;
    }

    @Override
    public Tensor forward(Tensor input) {
      return stochasticDepth.call(layerScale.mul(block.call(input))).add(input);
    }
  }
}
