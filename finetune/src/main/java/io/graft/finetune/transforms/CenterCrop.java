package io.graft.finetune.transforms;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import io.graft.finetune.data.Image;

/** The central {@code h×w} window (zero-padded if the image is smaller), as torchvision's {@code CenterCrop}. */
public final class CenterCrop implements Transform {
  private final int height;
  private final int width;

  /** A square {@code size × size} crop; throws {@link GraftException} unless {@code size} is positive. */
  public CenterCrop(int size) {
    this(size, size);
  }

  /** A {@code height × width} crop; throws {@link GraftException} unless both are positive. */
  public CenterCrop(int height, int width) {
    if (height < 1 || width < 1) {
      throw new GraftException("CenterCrop: size must be positive, got " + height + "x" + width);
    }
    this.height = height;
    this.width = width;
  }

  @Override
  public Image apply(Image img, Rng rng) {
    // Python's round() (half to even), as torchvision
    int top = (int) Math.rint((img.height() - height) / 2.0);
    int left = (int) Math.rint((img.width() - width) / 2.0);
    if (img.height() < height || img.width() < width) {
      // torchvision pads to the crop size first (left/top get the floor half), then crops
      int padTop = Math.max(0, (height - img.height()) / 2);
      int padLeft = Math.max(0, (width - img.width()) / 2);
      int ph = Math.max(img.height(), height);
      int pw = Math.max(img.width(), width);
      Image padded = Geometry.crop(img, -padTop, -padLeft, ph, pw);
      top = (int) Math.rint((ph - height) / 2.0);
      left = (int) Math.rint((pw - width) / 2.0);
      return Geometry.crop(padded, top, left, height, width);
    }
    return Geometry.crop(img, top, left, height, width);
  }

  @Override
  public String toString() {
    return "CenterCrop(" + height + ", " + width + ")";
  }
}
