package io.graft.zoo.models;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.random.Rng;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.Sequential;
import io.graft.layers.activation.ReLU;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.BatchNorm2d;
import io.graft.layers.pool.AdaptiveAvgPool2d;
import io.graft.layers.pool.MaxPool2d;
import java.util.function.UnaryOperator;

/**
 * torchvision's ResNet (v1.5: in a Bottleneck the stride sits on the 3×3 conv), with torchvision's module names
 * ({@code conv1}, {@code bn1}, {@code layer1.0.downsample.1}, {@code fc}) and initialisation (convs
 * kaiming_normal fan_out/relu, BatchNorm 1/0, {@code fc} as Linear's default).
 *
 * @see <a href="https://pytorch.org/vision/0.14/models/resnet.html">torchvision ResNet</a>
 */
@HoldsNoIntermediates
public final class ResNet extends Module implements Classifier {
  private final Conv2d conv1;
  private final BatchNorm2d bn1;
  private final ReLU relu;
  private final MaxPool2d maxpool;
  private final Sequential layer1;
  private final Sequential layer2;
  private final Sequential layer3;
  private final Sequential layer4;
  private final AdaptiveAvgPool2d avgpool;
  private final BnRelu bn1Relu;
  private Module fc;
  private int inplanes = 64;

  /**
   * torchvision's {@code resnet18(num_classes=numClasses)}: BasicBlock stages of [2, 2, 2, 2] blocks, freshly
   * initialised; throws {@link io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public static ResNet resnet18(int numClasses) {
    return new ResNet(false, new int[] {2, 2, 2, 2}, numClasses);
  }

  /**
   * torchvision's {@code resnet34(num_classes=numClasses)}: BasicBlock stages of [3, 4, 6, 3] blocks, freshly
   * initialised; throws {@link io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public static ResNet resnet34(int numClasses) {
    return new ResNet(false, new int[] {3, 4, 6, 3}, numClasses);
  }

  /**
   * torchvision's {@code resnet50(num_classes=numClasses)}: Bottleneck stages of [3, 4, 6, 3] blocks, freshly
   * initialised; throws {@link io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public static ResNet resnet50(int numClasses) {
    return new ResNet(true, new int[] {3, 4, 6, 3}, numClasses);
  }

  /**
   * torchvision's {@code resnet101(num_classes=numClasses)}: Bottleneck stages of [3, 4, 23, 3] blocks, freshly
   * initialised; throws {@link io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public static ResNet resnet101(int numClasses) {
    return new ResNet(true, new int[] {3, 4, 23, 3}, numClasses);
  }

  /**
   * torchvision's {@code resnet152(num_classes=numClasses)}: Bottleneck stages of [3, 8, 36, 3] blocks, freshly
   * initialised; throws {@link io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public static ResNet resnet152(int numClasses) {
    return new ResNet(true, new int[] {3, 8, 36, 3}, numClasses);
  }

  /** @param bottleneck Bottleneck blocks (expansion 4) instead of BasicBlocks */
  public ResNet(boolean bottleneck, int[] layers, int numClasses) {
    if (layers.length != 4 || numClasses < 1) {
      throw new GraftException("ResNet: need 4 stage depths and a positive class count");
    }
    Rng rng = Init.defaultRng();
    conv1 = registerModule("conv1", conv(3, 64, 7, 2, 3, 1, rng));
    bn1 = registerModule("bn1", new BatchNorm2d(64));
    relu = registerModule("relu", new ReLU());
    maxpool = registerModule("maxpool", new MaxPool2d(3, 2, 1));
    bn1Relu = new BnRelu(bn1, relu);
    layer1 = registerModule("layer1", stage(bottleneck, 64, layers[0], 1, rng));
    layer2 = registerModule("layer2", stage(bottleneck, 128, layers[1], 2, rng));
    layer3 = registerModule("layer3", stage(bottleneck, 256, layers[2], 2, rng));
    layer4 = registerModule("layer4", stage(bottleneck, 512, layers[3], 2, rng));
    avgpool = registerModule("avgpool", new AdaptiveAvgPool2d(1));
    fc = registerModule("fc", new Linear(512L * (bottleneck ? 4 : 1), numClasses, true, rng));
  }

  static Conv2d conv(int in, int out, int k, int stride, int pad, int groups, Rng rng) {
    Conv2d c = new Conv2d(in, out, k, Conv2d.Options.defaults().withStride(stride).withPadding(pad)
        .withGroups(groups).withBias(false).withRng(rng));
    Init.kaimingNormal(c.weight(), 0, "fan_out", "relu", rng);
    return c;
  }

  private Sequential stage(boolean bottleneck, int planes, int blocks, int stride, Rng rng) {
    int expansion = bottleneck ? 4 : 1;
    Sequential s = new Sequential();
    for (int i = 0; i < blocks; i++) {
      int st = i == 0 ? stride : 1;
      Sequential down = null;
      if (i == 0 && (stride != 1 || inplanes != planes * expansion)) {
        down = new Sequential(conv(inplanes, planes * expansion, 1, stride, 0, 1, rng),
            new BatchNorm2d(planes * expansion));
      }
      s.add(bottleneck ? new Bottleneck(inplanes, planes, st, down, rng) : new BasicBlock(inplanes, planes, st, down,
          rng));
      inplanes = planes * expansion;
    }
    return s;
  }

  @Override
  public String headPath() {
    return "fc";
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    // a frozen backbone frees its stem's and stages' activations as they are consumed (see Module.call)
    Tensor features = releasingIntermediates(x, t -> {
      t = maxpool.call(bn1Relu.call(conv1.call(t)));
      t = layer4.call(layer3.call(layer2.call(layer1.call(t))));
      return avgpool.call(t);
    }, conv1, bn1, relu, maxpool, layer1, layer2, layer3, layer4, avgpool);
    return fc.call(features.flatten(1, -1));
  }

  /** The head {@code fc} can be replaced (any module taking the pooled features); the backbone's modules cannot. */
  @Override
  protected void assignChild(String name, Module replacement) {
    if (!name.equals("fc")) {
      super.assignChild(name, replacement);
    }
    fc = replacement;
  }

  /**
   * A batch norm and the ReLU after it, as a block (or the stem) owns them: {@link #call} is
   * {@code relu.call(bn.call(x))}, computed in one pass by the batch norm with its ReLU fused
   * ({@link BatchNorm2d#forwardRelu}) under {@link Module#call}'s rule for intermediates; when either module has
   * forward hooks, which must see the value between them, the two calls instead. Both are leaf layers the owner
   * registered and cannot replace, so the fused pass skips no submodule's call, and the pair is bound once.
   */
  static final class BnRelu {
    private final BatchNorm2d bn;
    private final ReLU relu;
    private final UnaryOperator<Tensor> fused;
    private final Module[] used;

    BnRelu(BatchNorm2d bn, ReLU relu) {
      this.bn = bn;
      this.relu = relu;
      this.fused = bn::forwardRelu;
      this.used = new Module[] {bn, relu};
    }

    Tensor call(Tensor x) {
      if (bn.hasForwardHooks() || relu.hasForwardHooks()) {
        return relu.call(bn.call(x));
      }
      return releasingIntermediates(x, fused, used);
    }
  }

  /** Two 3×3 convs with a residual connection (ResNet-18/34). */
  @HoldsNoIntermediates
  public static final class BasicBlock extends Module {
    private final Conv2d conv1;
    private final BatchNorm2d bn1;
    private final ReLU relu;
    private final Conv2d conv2;
    private final BatchNorm2d bn2;
    private final Module downsample;
    private final BnRelu bn1Relu;

    BasicBlock(int inplanes, int planes, int stride, Sequential downsample, Rng rng) {
      conv1 = registerModule("conv1", conv(inplanes, planes, 3, stride, 1, 1, rng));
      bn1 = registerModule("bn1", new BatchNorm2d(planes));
      relu = registerModule("relu", new ReLU());
      conv2 = registerModule("conv2", conv(planes, planes, 3, 1, 1, 1, rng));
      bn2 = registerModule("bn2", new BatchNorm2d(planes));
      this.downsample = downsample == null ? null : registerModule("downsample", downsample);
      bn1Relu = new BnRelu(bn1, relu);
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor out = bn1Relu.call(conv1.call(x));
      out = bn2.call(conv2.call(out));
      Tensor identity = downsample == null ? x : downsample.call(x);
      return relu.call(out.add(identity));
    }
  }

  /** 1×1 → 3×3 (stride here, v1.5) → 1×1 with expansion 4 and a residual connection (ResNet-50/101/152). */
  @HoldsNoIntermediates
  public static final class Bottleneck extends Module {
    private final Conv2d conv1;
    private final BatchNorm2d bn1;
    private final Conv2d conv2;
    private final BatchNorm2d bn2;
    private final Conv2d conv3;
    private final BatchNorm2d bn3;
    private final ReLU relu;
    private final Module downsample;
    private final BnRelu bn1Relu;
    private final BnRelu bn2Relu;

    Bottleneck(int inplanes, int planes, int stride, Sequential downsample, Rng rng) {
      conv1 = registerModule("conv1", conv(inplanes, planes, 1, 1, 0, 1, rng));
      bn1 = registerModule("bn1", new BatchNorm2d(planes));
      conv2 = registerModule("conv2", conv(planes, planes, 3, stride, 1, 1, rng));
      bn2 = registerModule("bn2", new BatchNorm2d(planes));
      conv3 = registerModule("conv3", conv(planes, planes * 4, 1, 1, 0, 1, rng));
      bn3 = registerModule("bn3", new BatchNorm2d(planes * 4));
      relu = registerModule("relu", new ReLU());
      this.downsample = downsample == null ? null : registerModule("downsample", downsample);
      bn1Relu = new BnRelu(bn1, relu);
      bn2Relu = new BnRelu(bn2, relu);
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor out = bn1Relu.call(conv1.call(x));
      out = bn2Relu.call(conv2.call(out));
      out = bn3.call(conv3.call(out));
      Tensor identity = downsample == null ? x : downsample.call(x);
      return relu.call(out.add(identity));
    }
  }

}
