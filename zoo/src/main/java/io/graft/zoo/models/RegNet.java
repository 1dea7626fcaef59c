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
import io.graft.layers.activation.Sigmoid;
import io.graft.layers.block.SqueezeExcitation;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.BatchNorm;
import io.graft.layers.pool.AdaptiveAvgPool2d;
import java.util.List;
import java.util.Optional;

/**
 * torchvision's RegNetY (400MF, 800MF): {@code stem} conv 3×3/2-BN-ReLU, {@code trunk_output} = four stages {@code
 * block1..block4}, each a sequence of residual bottleneck blocks named {@code block<stage>-<index>} ({@code proj}
 * 1×1/stride-BN when the width or stride changes; {@code f} = {@code a} 1×1-BN-ReLU, {@code b} grouped 3×3/stride-BN-ReLU,
 * {@code se} {@link SqueezeExcitation} (ReLU / Sigmoid, squeeze = round(0.25 · the block's input width)), {@code c}
 * 1×1-BN; ReLU after the sum), global average pooling and the head {@code fc}. BatchNorm eps 1e-5, momentum 0.1.
 *
 * <p>The stage depths, widths and group widths are torchvision's {@code BlockParams.from_init_params} results for
 * each model's (depth, w_0, w_a, w_m, group_width) in 0.14, bottleneck multiplier 1, every first block stride 2:
 * 400MF (16, 48, 27.89, 2.09, 8) → depths [1, 3, 6, 6], widths [48, 104, 208, 440], group width 8; 800MF (14, 56,
 * 38.84, 2.4, 16) → depths [1, 3, 8, 2], widths [64, 144, 320, 784], group width 16.
 *
 * <p>Stages ({@link #stages()}): {@code stem}, {@code trunk_output.block1} ... {@code trunk_output.block4}.
 *
 * <p>Initialisation as torchvision: convolutions normal(0, √(2 / (k² · out))) (biases of the SE convolutions keep
 * PyTorch's default), BatchNorm 1/0, {@code fc} normal(0, 0.01) with zero bias.
 *
 * @see <a href="https://pytorch.org/vision/0.14/models/regnet.html">torchvision RegNet</a>
 */
@HoldsNoIntermediates
public final class RegNet extends Module implements Classifier {
  private static final int STEM_WIDTH = 32;

  private final Sequential stem;
  private final Sequential trunkOutput;
  private final AdaptiveAvgPool2d avgpool;
  private Module fc;

  /** torchvision's {@code regnet_y_400mf(num_classes=numClasses)}. */
  public static RegNet regnetY400mf(int numClasses) {
    return new RegNet(new int[] {1, 3, 6, 6}, new int[] {48, 104, 208, 440}, 8, numClasses);
  }

  /** torchvision's {@code regnet_y_800mf(num_classes=numClasses)}. */
  public static RegNet regnetY800mf(int numClasses) {
    return new RegNet(new int[] {1, 3, 8, 2}, new int[] {64, 144, 320, 784}, 16, numClasses);
  }

  private RegNet(int[] depths, int[] widths, int groupWidth, int numClasses) {
    if (numClasses < 1) {
      throw new GraftException("RegNet: num_classes must be positive, got " + numClasses);
    }
    Rng rng = Init.defaultRng();
    BatchNorm.Options bn = BatchNorm.Options.defaults();
    stem = registerModule("stem", ConvNormActivation.of(3, STEM_WIDTH, 3, 2, 1, bn, new ReLU(), rng));
    Named trunk = new Named();
    int in = STEM_WIDTH;
    for (int s = 0; s < depths.length; s++) {
      Named stage = new Named();
      for (int i = 0; i < depths[s]; i++) {
        stage.put("block" + (s + 1) + "-" + i, new ResBottleneckBlock(i == 0 ? in : widths[s], widths[s],
            i == 0 ? 2 : 1, groupWidth, bn, rng));
      }
      trunk.put("block" + (s + 1), stage);
      in = widths[s];
    }
    trunkOutput = registerModule("trunk_output", trunk);
    avgpool = registerModule("avgpool", new AdaptiveAvgPool2d(1));
    Linear head = new Linear(in, numClasses, true, rng);
    Init.normal(head.weight(), 0, 0.01, rng);
    Init.zeros(head.bias());
    fc = registerModule("fc", head);
  }

  @Override
  public String headPath() {
    return "fc";
  }

  /** {@code stem}, {@code trunk_output.block1} ... {@code trunk_output.block4}. */
  @Override
  public Optional<List<String>> stages() {
    return Optional.of(List.of("stem", "trunk_output.block1", "trunk_output.block2", "trunk_output.block3",
        "trunk_output.block4"));
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    return fc.call(avgpool.call(trunkOutput.call(stem.call(x))).flatten(1, -1));
  }

  /** The head {@code fc} can be replaced (any module taking the pooled features); the backbone's modules cannot. */
  @Override
  protected void assignChild(String name, Module replacement) {
    if (!name.equals("fc")) {
      super.assignChild(name, replacement);
    }
    fc = replacement;
  }

  /** A sequence whose children carry torchvision's names ({@code block1}, {@code block1-0}) instead of indices. */
  @HoldsNoIntermediates
  public static final class Named extends Sequential {
    void put(String name, Module m) {
      registerModule(name, m);
    }
  }

  /** RegNet's residual bottleneck block: {@code relu(proj(x) + f(x))}, or {@code relu(x + f(x))} without proj. */
  @HoldsNoIntermediates
  public static final class ResBottleneckBlock extends Module {
    private final Sequential proj;
    private final Named f;
    private final ReLU activation;

    ResBottleneckBlock(int in, int out, int stride, int groupWidth, BatchNorm.Options bn, Rng rng) {
      proj = in != out || stride != 1
          ? registerModule("proj", ConvNormActivation.of(in, out, 1, stride, 1, bn, null, rng)) : null;
      f = new Named();
      f.put("a", ConvNormActivation.of(in, out, 1, 1, 1, bn, new ReLU(), rng));
      f.put("b", ConvNormActivation.of(out, out, 3, stride, out / groupWidth, bn, new ReLU(), rng));
      SqueezeExcitation se = new SqueezeExcitation(out, (int) Math.rint(0.25 * in), new ReLU(), new Sigmoid(), rng);
      for (Conv2d c : new Conv2d[] {se.fc1(), se.fc2()}) {
        Init.kaimingNormal(c.weight(), 0, "fan_out", "relu", rng);
      }
      f.put("se", se);
      f.put("c", ConvNormActivation.of(out, out, 1, 1, 1, bn, null, rng));
      registerModule("f", f);
      activation = registerModule("activation", new ReLU());
    }

    @Override
    public Tensor forward(Tensor x) {
      Tensor y = f.call(x);
      return activation.call(proj != null ? proj.call(x).add(y) : x.add(y));
    }
  }
}
