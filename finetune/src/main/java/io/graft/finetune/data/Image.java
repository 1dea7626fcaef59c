package io.graft.finetune.data;

import io.graft.core.GraftException;

/**
 * One image as channel-major floats (C, H, W), values in [0, 1] as after torchvision's {@code ToTensor}. Plain
 * Java arrays, so decoding and augmentation run on background threads without touching native memory; the
 * {@link DataLoader} packs a batch into one tensor.
 */
public record Image(int channels, int height, int width, float[] data) {
  public Image {
    if (channels < 1 || height < 1 || width < 1 || data.length != (long) channels * height * width) {
      throw new GraftException("Image: " + data.length + " values do not make a " + channels + "x" + height + "x"
          + width + " image");
    }
  }

  public static Image zeros(int c, int h, int w) {
    return new Image(c, h, w, new float[c * h * w]);
  }

  public float get(int c, int y, int x) {
    return data[(c * height + y) * width + x];
  }

  public int numel() {
    return data.length;
  }
}
