package io.graft.finetune.transforms;

import io.graft.core.random.Rng;
import io.graft.finetune.data.Image;
import java.util.List;

/** Transforms applied in order, as torchvision's {@code Compose}. */
public final class Compose implements Transform {
  private final List<Transform> steps;

  private Compose(List<Transform> steps) {
    this.steps = List.copyOf(steps);
  }

  /** {@code steps} applied in the order given. */
  public static Compose of(Transform... steps) {
    return new Compose(List.of(steps));
  }

  @Override
  public Image apply(Image img, Rng rng) {
    for (Transform t : steps) {
      img = t.apply(img, rng);
    }
    return img;
  }

  @Override
  public boolean deterministic() {
    return steps.stream().allMatch(Transform::deterministic);
  }

  @Override
  public String toString() {
    return "Compose" + steps;
  }
}
