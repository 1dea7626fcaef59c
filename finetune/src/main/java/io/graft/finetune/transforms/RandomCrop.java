package io.graft.finetune.transforms;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import io.graft.finetune.data.Image;

/**
 * A random {@code h×w} window after zero-padding every side by {@code padding}, as torchvision's
 * {@code RandomCrop(size, padding)} (the CIFAR/MNIST augmentation).
 */
public final class RandomCrop implements Transform {
  private final int height;
  private final int width;
  private final int padding;

  /**
   * A random {@code size × size} crop after zero-padding every side by {@code padding}; throws as {@link
   * #RandomCrop(int, int, int)}.
   */
  public RandomCrop(int size, int padding) {
    this(size, size, padding);
  }

  /**
   * A random {@code height × width} crop after zero-padding every side by {@code padding}; throws {@link
   * GraftException} for a non-positive size or a negative padding.
   */
  public RandomCrop(int height, int width, int padding) {
    if (height < 1 || width < 1 || padding < 0) {
      throw new GraftException("RandomCrop: bad size " + height + "x" + width + " or padding " + padding);
    }
    this.height = height;
    this.width = width;
    this.padding = padding;
  }

  @Override
  public Image apply(Image img, Rng rng) {
    int ph = img.height() + 2 * padding;
    int pw = img.width() + 2 * padding;
    if (ph < height || pw < width) {
      throw new GraftException("RandomCrop: crop " + height + "x" + width + " is larger than the padded image "
          + ph + "x" + pw);
    }
    int top = rng.nextInt(ph - height + 1);
    int left = rng.nextInt(pw - width + 1);
    return Geometry.crop(img, top - padding, left - padding, height, width);
  }

  @Override
  public boolean deterministic() {
    return false;
  }

  @Override
  public String toString() {
    return "RandomCrop(" + height + ", " + width + ", padding=" + padding + ")";
  }
}
