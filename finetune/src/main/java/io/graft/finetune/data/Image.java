package io.graft.finetune.data;

import io.graft.core.GraftException;

/**
 * One image as channel-major floats (C, H, W), values in [0, 1] as after torchvision's {@code ToTensor}. Plain
 * Java arrays, so decoding and augmentation run on background threads without touching native memory; the
 * {@link DataLoader} packs a batch into one tensor.
 */
public record Image(int channels, int height, int width, float[] data) {
  /**
   * PIL's decompression-bomb threshold ({@code Image.MAX_IMAGE_PIXELS}, 89,478,485 pixels: a quarter GiB of
   * 24-bit RGB). A decoded image above it is warned about; one above twice it, decoded or produced by a transform
   * (a {@code Resize} of a 1×4000 strip to a short side of 256, say), is refused before its pixels are allocated.
   */
  public static final long MAX_PIXELS = 89_478_485L;

  /** The largest image Graft allocates: twice {@link #MAX_PIXELS}, as PIL refuses. */
  public static final long REFUSED_PIXELS = 2 * MAX_PIXELS;

  /**
   * Checks an image size before anything is allocated for it: positive sides, at most {@link #REFUSED_PIXELS}
   * pixels (long arithmetic: a 30000×30000 image does not wrap to a negative size). {@code what} names the file or
   * transform in the error.
   */
  public static void checkSize(long height, long width, String what) {
    if (height < 1 || width < 1) {
      throw new GraftException(what + ": image size must be positive, got " + height + "x" + width);
    }
    if (height > REFUSED_PIXELS || width > REFUSED_PIXELS || height * width > REFUSED_PIXELS) {
      throw new GraftException(what + ": a " + width + "x" + height + " image has " + height * width
          + " pixels, more than the limit of " + REFUSED_PIXELS + " (twice PIL's decompression-bomb threshold of "
          + MAX_PIXELS + ")");
    }
  }

  /** Zeroed planes for a {@code channels × height × width} image, after {@link #checkSize}. */
  public static float[] allocate(int channels, long height, long width, String what) {
    checkSize(height, width, what);
    return new float[Math.toIntExact(channels * height * width)];
  }

  /**
   * Throws {@link GraftException} unless every size is positive and {@code data} holds exactly {@code channels × height
   * × width} values.
   */
  public Image {
    if (channels < 1 || height < 1 || width < 1 || data.length != (long) channels * height * width) {
      throw new GraftException("Image: " + data.length + " values do not make a " + channels + "x" + height + "x"
          + width + " image");
    }
  }

  /**
   * A black {@code c × h × w} image; throws {@link GraftException} for a non-positive side or more than {@link
   * #REFUSED_PIXELS} pixels.
   */
  public static Image zeros(int c, int h, int w) {
    return new Image(c, h, w, allocate(c, h, w, "Image.zeros"));
  }

  /** The value of channel {@code c} at row {@code y}, column {@code x} (no bounds check beyond the array's). */
  public float get(int c, int y, int x) {
    return data[(c * height + y) * width + x];
  }

  /** The number of values, {@code channels × height × width}. */
  public int numel() {
    return data.length;
  }
}
