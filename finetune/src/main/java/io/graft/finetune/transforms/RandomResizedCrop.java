package io.graft.finetune.transforms;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import io.graft.finetune.data.Image;

/**
 * A random window covering {@code scale} of the area with aspect ratio in {@code ratio}, resized to size×size —
 * torchvision's {@code RandomResizedCrop} (defaults scale (0.08, 1), ratio (3/4, 4/3)): up to 10 tries, then a
 * central crop with the ratio clamped.
 */
public final class RandomResizedCrop implements Transform {
  private final int size;
  private final double scaleLo;
  private final double scaleHi;
  private final double ratioLo;
  private final double ratioHi;

  /** A {@code size × size} output with torchvision's defaults, scale (0.08, 1) and ratio (3/4, 4/3). */
  public RandomResizedCrop(int size) {
    this(size, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0);
  }

  /**
   * A {@code size × size} output from a window of area fraction in [{@code scaleLo}, {@code scaleHi}] and aspect ratio
   * in [{@code ratioLo}, {@code ratioHi}] (PyTorch's {@code scale}, {@code ratio}); throws {@link GraftException}
   * unless {@code size > 0}, {@code 0 < scaleLo <= scaleHi <= 1} and {@code 0 < ratioLo <= ratioHi}.
   */
  public RandomResizedCrop(int size, double scaleLo, double scaleHi, double ratioLo, double ratioHi) {
    if (size < 1 || !(scaleLo > 0 && scaleLo <= scaleHi && scaleHi <= 1) || !(ratioLo > 0 && ratioLo <= ratioHi)) {
      throw new GraftException("RandomResizedCrop: bad size " + size + ", scale (" + scaleLo + ", " + scaleHi
          + ") or ratio (" + ratioLo + ", " + ratioHi + ")");
    }
    this.size = size;
    this.scaleLo = scaleLo;
    this.scaleHi = scaleHi;
    this.ratioLo = ratioLo;
    this.ratioHi = ratioHi;
  }

  /** (top, left, h, w) of the crop, exactly as torchvision's {@code get_params}. */
  int[] params(int height, int width, Rng rng) {
    double area = (double) height * width;
    double logLo = Math.log(ratioLo);
    double logHi = Math.log(ratioHi);
    for (int attempt = 0; attempt < 10; attempt++) {
      double target = area * (scaleLo + (scaleHi - scaleLo) * rng.nextDouble());
      double aspect = Math.exp(logLo + (logHi - logLo) * rng.nextDouble());
      int w = (int) Math.rint(Math.sqrt(target * aspect));
      int h = (int) Math.rint(Math.sqrt(target / aspect));
      if (w > 0 && w <= width && h > 0 && h <= height) {
        return new int[] {rng.nextInt(height - h + 1), rng.nextInt(width - w + 1), h, w};
      }
    }
    double inRatio = (double) width / height;
    int w;
    int h;
    if (inRatio < ratioLo) {
      w = width;
      h = (int) Math.rint(w / ratioLo);
    } else if (inRatio > ratioHi) {
      h = height;
      w = (int) Math.rint(h * ratioHi);
    } else {
      w = width;
      h = height;
    }
    return new int[] {(height - h) / 2, (width - w) / 2, h, w};
  }

  @Override
  public Image apply(Image img, Rng rng) {
    int[] p = params(img.height(), img.width(), rng);
    return Geometry.resize(Geometry.crop(img, p[0], p[1], p[2], p[3]), size, size);
  }

  @Override
  public boolean deterministic() {
    return false;
  }

  @Override
  public String toString() {
    return "RandomResizedCrop(" + size + ", scale=(" + scaleLo + ", " + scaleHi + "), ratio=(" + ratioLo + ", "
        + ratioHi + "))";
  }
}
