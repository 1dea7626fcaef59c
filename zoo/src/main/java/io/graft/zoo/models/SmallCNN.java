package io.graft.zoo.models;

import io.graft.core.Tensor;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.Sequential;
import io.graft.layers.activation.ReLU;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.BatchNorm2d;
import io.graft.layers.pool.MaxPool2d;

/**
 * A small CNN for 1×28×28 images (MNIST, Fashion-MNIST), Graft's demo model: {@code features.0} Conv2d(1, 16, 3,
 * padding 1), {@code features.1} BatchNorm2d(16), ReLU, MaxPool2d(2), {@code features.4} Conv2d(16, 32, 3,
 * padding 1, no bias), {@code features.5} BatchNorm2d(32), ReLU, MaxPool2d(2), flatten, {@code fc1}
 * Linear(1568, 64), ReLU, {@code head} Linear(64, classes). PyTorch's default initialisation.
 */
@HoldsNoIntermediates
public final class SmallCNN extends Module implements Classifier {
  private final Sequential features;
  private final Linear fc1;
  private final ReLU relu;
  private Module head;

  /**
   * The demo CNN with a {@code numClasses}-way head, PyTorch's default initialisation; throws {@link
   * io.graft.core.GraftException} unless {@code numClasses} is positive.
   */
  public SmallCNN(int numClasses) {
    Conv2d.Options pad1 = Conv2d.Options.defaults().withPadding(1);
    features = registerModule("features", new Sequential(new Conv2d(1, 16, 3, pad1), new BatchNorm2d(16), new ReLU(),
        new MaxPool2d(2), new Conv2d(16, 32, 3, pad1.withBias(false)), new BatchNorm2d(32), new ReLU(),
        new MaxPool2d(2)));
    fc1 = registerModule("fc1", new Linear(1568, 64));
    relu = registerModule("relu", new ReLU());
    head = registerModule("head", new Linear(64, numClasses));
  }

  @Override
  public String headPath() {
    return "head";
  }

  /** The {@code head} can be replaced (any module taking fc1's 64 features); the other modules cannot. */
  @Override
  protected void assignChild(String name, Module replacement) {
    if (!name.equals("head")) {
      super.assignChild(name, replacement);
    }
    head = replacement;
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    return head.call(relu.call(fc1.call(features.call(x).flatten(1, -1))));
  }
}
