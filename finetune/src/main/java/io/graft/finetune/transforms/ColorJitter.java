package io.graft.finetune.transforms;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import io.graft.finetune.data.Image;

/**
 * Random brightness, contrast, saturation and hue, applied in a random order, as torchvision's {@code ColorJitter}:
 * factors are drawn from {@code [max(0, 1 - b), 1 + b]} (hue shift from {@code [-h, h]}, h ≤ 0.5); brightness
 * scales, contrast blends with the mean gray level, saturation with the grayscale image (ITU-R 601-2 luma), hue
 * rotates in HSV. Saturation and hue leave 1-channel images unchanged.
 */
public final class ColorJitter implements Transform {
  private final double brightness;
  private final double contrast;
  private final double saturation;
  private final double hue;

  /**
   * Jitter with PyTorch's {@code brightness}, {@code contrast}, {@code saturation} (each at least 0, 0 for none) and
   * {@code hue} (in [0, 0.5]); throws {@link GraftException} otherwise.
   */
  public ColorJitter(double brightness, double contrast, double saturation, double hue) {
    if (brightness < 0 || contrast < 0 || saturation < 0 || hue < 0 || hue > 0.5) {
      throw new GraftException("ColorJitter: factors must be >= 0 and hue <= 0.5, got " + brightness + ", "
          + contrast + ", " + saturation + ", " + hue);
    }
    this.brightness = brightness;
    this.contrast = contrast;
    this.saturation = saturation;
    this.hue = hue;
  }

  @Override
  public Image apply(Image img, Rng rng) {
    int[] order = rng.permutation(4);
    double b = brightness > 0 ? uniform(rng, Math.max(0, 1 - brightness), 1 + brightness) : -1;
    double c = contrast > 0 ? uniform(rng, Math.max(0, 1 - contrast), 1 + contrast) : -1;
    double s = saturation > 0 ? uniform(rng, Math.max(0, 1 - saturation), 1 + saturation) : -1;
    double h = hue > 0 ? uniform(rng, -hue, hue) : Double.NaN;
    for (int op : order) {
      switch (op) {
        case 0 -> img = b >= 0 ? adjustBrightness(img, b) : img;
        case 1 -> img = c >= 0 ? adjustContrast(img, c) : img;
        case 2 -> img = s >= 0 ? adjustSaturation(img, s) : img;
        default -> img = !Double.isNaN(h) ? adjustHue(img, h) : img;
      }
    }
    return img;
  }

  private static double uniform(Rng rng, double lo, double hi) {
    return lo + (hi - lo) * rng.nextDouble();
  }

  static Image adjustBrightness(Image img, double f) {
    return blend(img, null, 0, f);
  }

  static Image adjustContrast(Image img, double f) {
    float[] gray = grayscale(img);
    double mean = 0;
    for (float g : gray) {
      mean += g;
    }
    return blend(img, null, (float) (mean / gray.length), f);
  }

  static Image adjustSaturation(Image img, double f) {
    if (img.channels() != 3) {
      return img;
    }
    return blend(img, grayscale(img), 0, f);
  }

  /** {@code clamp(f * img + (1 - f) * other, 0, 1)}; {@code other} is a gray plane or a constant. */
  private static Image blend(Image img, float[] otherPlane, float otherConst, double f) {
    float[] out = new float[img.numel()];
    int plane = img.height() * img.width();
    float ff = (float) f;
    for (int i = 0; i < out.length; i++) {
      float o = otherPlane != null ? otherPlane[i % plane] : otherConst;
      out[i] = Math.min(1f, Math.max(0f, ff * img.data()[i] + (1 - ff) * o));
    }
    return new Image(img.channels(), img.height(), img.width(), out);
  }

  static float[] grayscale(Image img) {
    int plane = img.height() * img.width();
    float[] g = new float[plane];
    if (img.channels() == 1) {
      System.arraycopy(img.data(), 0, g, 0, plane);
      return g;
    }
    for (int i = 0; i < plane; i++) {
      g[i] = 0.2989f * img.data()[i] + 0.587f * img.data()[plane + i] + 0.114f * img.data()[2 * plane + i];
    }
    return g;
  }

  static Image adjustHue(Image img, double shift) {
    if (img.channels() != 3) {
      return img;
    }
    int plane = img.height() * img.width();
    float[] d = img.data();
    float[] out = new float[d.length];
    for (int i = 0; i < plane; i++) {
      float r = d[i];
      float g = d[plane + i];
      float b = d[2 * plane + i];
      float max = Math.max(r, Math.max(g, b));
      float min = Math.min(r, Math.min(g, b));
      float cr = max - min;
      float s = max == 0 ? 0 : cr / max;
      float h = 0;
      if (cr != 0) {
        if (max == r) {
          h = (g - b) / cr;
        } else if (max == g) {
          h = 2f + (b - r) / cr;
        } else {
          h = 4f + (r - g) / cr;
        }
        h = (h / 6f) % 1f;
        if (h < 0) {
          h += 1f;
        }
      }
      h = (float) ((h + shift) % 1.0);
      if (h < 0) {
        h += 1f;
      }
      float v = max;
      float h6 = h * 6f;
      int sector = (int) Math.floor(h6) % 6;
      float frac = h6 - (float) Math.floor(h6);
      float p = v * (1 - s);
      float q = v * (1 - s * frac);
      float t = v * (1 - s * (1 - frac));
      float[] rgb = switch (sector) {
        case 0 -> new float[] {v, t, p};
        case 1 -> new float[] {q, v, p};
        case 2 -> new float[] {p, v, t};
        case 3 -> new float[] {p, q, v};
        case 4 -> new float[] {t, p, v};
        default -> new float[] {v, p, q};
      };
      out[i] = rgb[0];
      out[plane + i] = rgb[1];
      out[2 * plane + i] = rgb[2];
    }
    return new Image(3, img.height(), img.width(), out);
  }

  @Override
  public boolean deterministic() {
    return brightness == 0 && contrast == 0 && saturation == 0 && hue == 0;
  }

  @Override
  public String toString() {
    return "ColorJitter(brightness=" + brightness + ", contrast=" + contrast + ", saturation=" + saturation + ", hue="
        + hue + ")";
  }
}
