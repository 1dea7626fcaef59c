package io.graft.finetune.transforms;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import io.graft.finetune.data.Image;

/** {@code (x - mean[c]) / std[c]} per channel, as torchvision's {@code Normalize}. */
public final class Normalize implements Transform {
  /** torchvision's ImageNet statistics. */
  public static final Normalize IMAGENET = new Normalize(new float[] {0.485f, 0.456f, 0.406f},
      new float[] {0.229f, 0.224f, 0.225f});

  private final float[] mean;
  private final float[] std;

  /**
   * Normalisation with one {@code mean} and one positive {@code std} per channel; throws {@link GraftException} if the
   * lengths differ or are 0 or a std is not positive, and at apply for an image with another channel count.
   */
  public Normalize(float[] mean, float[] std) {
    if (mean.length != std.length || mean.length == 0) {
      throw new GraftException("Normalize: mean and std need one value per channel, got " + mean.length + " and "
          + std.length);
    }
    for (float s : std) {
      if (!(s > 0)) {
        throw new GraftException("Normalize: std must be positive, got " + s);
      }
    }
    this.mean = mean.clone();
    this.std = std.clone();
  }

  @Override
  public Image apply(Image img, Rng rng) {
    if (img.channels() != mean.length) {
      throw new GraftException("Normalize: " + mean.length + " channel statistics for an image with "
          + img.channels() + " channels");
    }
    int plane = img.height() * img.width();
    float[] out = new float[img.numel()];
    float[] in = img.data();
    for (int c = 0; c < mean.length; c++) {
      float m = mean[c];
      float s = std[c];
      for (int i = c * plane; i < (c + 1) * plane; i++) {
        out[i] = (in[i] - m) / s;
      }
    }
    return new Image(img.channels(), img.height(), img.width(), out);
  }

  /** torchvision's {@code mean}: one value per channel (a copy). */
  public float[] mean() {
    return mean.clone();
  }

  /** torchvision's {@code std}: one value per channel (a copy). */
  public float[] std() {
    return std.clone();
  }

  @Override
  public String toString() {
    return "Normalize(mean=" + java.util.Arrays.toString(mean) + ", std=" + java.util.Arrays.toString(std) + ")";
  }
}
