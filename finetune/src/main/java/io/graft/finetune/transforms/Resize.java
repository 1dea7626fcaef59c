package io.graft.finetune.transforms;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import io.graft.finetune.data.Image;

/**
 * Bilinear resize as torchvision's {@code Resize} on tensors (0.14: no antialiasing): {@code new Resize(256)} maps
 * the shorter side to 256 keeping the aspect ratio; {@code new Resize(h, w)} gives exactly h×w.
 */
public final class Resize implements Transform {
  private final int size;
  private final int height;
  private final int width;

  /**
   * Maps the shorter side to {@code size}, keeping the aspect ratio; throws {@link GraftException} unless {@code size}
   * is positive.
   */
  public Resize(int size) {
    if (size < 1) {
      throw new GraftException("Resize: size must be positive, got " + size);
    }
    this.size = size;
    this.height = -1;
    this.width = -1;
  }

  /** Resizes to exactly {@code height × width}; throws {@link GraftException} unless both are positive. */
  public Resize(int height, int width) {
    if (height < 1 || width < 1) {
      throw new GraftException("Resize: size must be positive, got " + height + "x" + width);
    }
    this.size = -1;
    this.height = height;
    this.width = width;
  }

  @Override
  public Image apply(Image img, Rng rng) {
    if (size > 0) {
      int[] hw = Geometry.shorterSide(img.height(), img.width(), size);
      return Geometry.resize(img, hw[0], hw[1]);
    }
    return Geometry.resize(img, height, width);
  }

  @Override
  public String toString() {
    return size > 0 ? "Resize(" + size + ")" : "Resize(" + height + ", " + width + ")";
  }
}
