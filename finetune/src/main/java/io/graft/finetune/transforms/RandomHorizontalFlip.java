package io.graft.finetune.transforms;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import io.graft.finetune.data.Image;

/** Mirrors the image left-right with probability {@code p} (default 0.5), as torchvision's transform. */
public final class RandomHorizontalFlip implements Transform {
  private final double p;

  /** Flips with probability 0.5. */
  public RandomHorizontalFlip() {
    this(0.5);
  }

  /** Flips with probability {@code p} in [0, 1]; throws {@link GraftException} otherwise. */
  public RandomHorizontalFlip(double p) {
    if (!(p >= 0 && p <= 1)) {
      throw new GraftException("RandomHorizontalFlip: p must be in [0, 1], got " + p);
    }
    this.p = p;
  }

  @Override
  public Image apply(Image img, Rng rng) {
    return rng.nextDouble() < p ? Geometry.hflip(img) : img;
  }

  @Override
  public boolean deterministic() {
    return p == 0 || p == 1;
  }

  @Override
  public String toString() {
    return "RandomHorizontalFlip(p=" + p + ")";
  }
}
