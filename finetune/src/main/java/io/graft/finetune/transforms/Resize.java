package io.graft.finetune.transforms;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import io.graft.finetune.data.Image;

/**
 * Resize as torchvision's {@code Resize} on tensors (0.14: no antialiasing), bilinear unless told otherwise: {@code
 * new Resize(256)} maps the shorter side to 256 keeping the aspect ratio; {@code new Resize(h, w)} gives exactly h×w;
 * {@code new Resize(320, Interpolation.BICUBIC)} samples bicubically.
 */
public final class Resize implements Transform {
  private final int size;
  private final int height;
  private final int width;
  private final Interpolation mode;

  /**
   * Maps the shorter side to {@code size}, keeping the aspect ratio; throws {@link GraftException} unless {@code size}
   * is positive.
   */
  public Resize(int size) {
    this(size, Interpolation.BILINEAR);
  }

  /** As {@link #Resize(int)}, sampling with {@code mode}. */
  public Resize(int size, Interpolation mode) {
    if (size < 1) {
      throw new GraftException("Resize: size must be positive, got " + size);
    }
    this.size = size;
    this.height = -1;
    this.width = -1;
    this.mode = java.util.Objects.requireNonNull(mode, "mode");
  }

  /** Resizes to exactly {@code height × width}; throws {@link GraftException} unless both are positive. */
  public Resize(int height, int width) {
    this(height, width, Interpolation.BILINEAR);
  }

  /** As {@link #Resize(int, int)}, sampling with {@code mode}. */
  public Resize(int height, int width, Interpolation mode) {
    if (height < 1 || width < 1) {
      throw new GraftException("Resize: size must be positive, got " + height + "x" + width);
    }
    this.size = -1;
    this.height = height;
    this.width = width;
    this.mode = java.util.Objects.requireNonNull(mode, "mode");
  }

  /** How this resize samples. */
  public Interpolation interpolation() {
    return mode;
  }

  @Override
  public Image apply(Image img, Rng rng) {
    if (size > 0) {
      int[] hw = Geometry.shorterSide(img.height(), img.width(), size);
      return Geometry.resize(img, hw[0], hw[1], mode);
    }
    return Geometry.resize(img, height, width, mode);
  }

  @Override
  public String toString() {
    String m = mode == Interpolation.BILINEAR ? "" : ", " + mode.torchName();
    return size > 0 ? "Resize(" + size + m + ")" : "Resize(" + height + ", " + width + m + ")";
  }
}
