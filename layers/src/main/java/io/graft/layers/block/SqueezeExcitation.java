package io.graft.layers.block;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.ops.ChannelScaleOps;
import io.graft.core.random.Rng;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;
import io.graft.layers.activation.ReLU;
import io.graft.layers.activation.Sigmoid;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.pool.AdaptiveAvgPool2d;

/**
 * Squeeze-and-excitation (torchvision.ops.SqueezeExcitation): {@code x · scale_activation(fc2(activation(fc1(
 * avgpool(x)))))}, where {@code fc1} and {@code fc2} are 1×1 convolutions with bias ({@code input → squeeze →
 * input} channels) and the pool is a global average. Children in torchvision's order: {@code avgpool}, {@code fc1},
 * {@code fc2}, {@code activation}, {@code scale_activation}; state-dict keys {@code fc1.weight}, {@code fc1.bias},
 * {@code fc2.weight}, {@code fc2.bias}. EfficientNet uses SiLU / Sigmoid, MobileNetV3 ReLU / Hardsigmoid, RegNetY
 * ReLU / Sigmoid.
 *
 * @see <a href="https://pytorch.org/vision/0.14/generated/torchvision.ops.SqueezeExcitation.html">
 *     torchvision.ops.SqueezeExcitation</a>
 */
@HoldsNoIntermediates
public final class SqueezeExcitation extends Module {
  private final AdaptiveAvgPool2d avgpool;
  private final Conv2d fc1;
  private final Conv2d fc2;
  private final Module activation;
  private final Module scaleActivation;

  /** torchvision's defaults: ReLU between the convolutions, Sigmoid as the gate. */
  public SqueezeExcitation(int inputChannels, int squeezeChannels) {
    this(inputChannels, squeezeChannels, new ReLU(), new Sigmoid(), Init.defaultRng());
  }

  /**
   * A block with the given activation and gate modules, its convolutions initialised as PyTorch's default from
   * {@code rng}; throws {@link GraftException} unless both channel counts are positive and the modules are non-null.
   */
  public SqueezeExcitation(int inputChannels, int squeezeChannels, Module activation, Module scaleActivation,
      Rng rng) {
    if (inputChannels < 1 || squeezeChannels < 1) {
      throw new GraftException("SqueezeExcitation: input_channels and squeeze_channels must be positive, got "
          + inputChannels + " and " + squeezeChannels);
    }
    if (activation == null || scaleActivation == null || rng == null) {
      throw new GraftException("SqueezeExcitation: activation, scale_activation and rng must be non-null");
    }
    avgpool = registerModule("avgpool", new AdaptiveAvgPool2d(1));
    fc1 = registerModule("fc1", new Conv2d(inputChannels, squeezeChannels, 1,
        Conv2d.Options.defaults().withRng(rng)));
    fc2 = registerModule("fc2", new Conv2d(squeezeChannels, inputChannels, 1,
        Conv2d.Options.defaults().withRng(rng)));
    this.activation = registerModule("activation", activation);
    this.scaleActivation = registerModule("scale_activation", scaleActivation);
  }

  /** The squeezing 1×1 convolution (input → squeeze channels). */
  public Conv2d fc1() {
    return fc1;
  }

  /** The expanding 1×1 convolution (squeeze → input channels). */
  public Conv2d fc2() {
    return fc2;
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    Tensor scale = scaleActivation.call(fc2.call(activation.call(fc1.call(avgpool.call(x)))));
    return ChannelScaleOps.scaleChannels(x, scale);   // scale · x, on oneDNN where it runs (x's layout kept)
  }
}
