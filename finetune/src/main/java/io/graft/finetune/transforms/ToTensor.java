package io.graft.finetune.transforms;

import io.graft.finetune.data.Image;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;

/**
 * torchvision's {@code ToTensor}: an 8-bit image, H×W×C, to C×H×W floats in [0, 1] (each value / 255). Datasets
 * apply it when they decode, so every {@link Transform} sees float images, as torchvision's tensor transforms do.
 *
 * @see <a href="https://pytorch.org/vision/0.14/generated/torchvision.transforms.ToTensor.html">ToTensor</a>
 */
public final class ToTensor {
  private ToTensor() {}

  /**
   * A decoded image as {@code channels} (1 or 3) planes: RGB images to luma with PIL's {@code convert("L")}
   * weights when one channel is asked for, gray images repeated when three are.
   */
  public static Image of(BufferedImage img, int channels) {
    int h = img.getHeight();
    int w = img.getWidth();
    float[] v = Image.allocate(channels, h, w, "ToTensor");
    int plane = h * w;
    // gray images (8- or 16-bit, with or without alpha): the stored level, as PIL reads it, not the sRGB value
    // that getRGB would derive from Java's linear gray colour space
    boolean gray = img.getColorModel().getColorSpace().getType() == ColorSpace.TYPE_GRAY;
    float grayMax = gray ? (1 << img.getColorModel().getComponentSize(0)) - 1 : 255f;
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int i = y * w + x;
        if (gray) {
          float g = img.getRaster().getSample(x, y, 0) / grayMax;
          for (int c = 0; c < channels; c++) {
            v[c * plane + i] = g;
          }
          continue;
        }
        int rgb = img.getRGB(x, y);
        int r = (rgb >> 16) & 0xFF;
        int g = (rgb >> 8) & 0xFF;
        int b = rgb & 0xFF;
        if (channels == 3) {
          v[i] = r / 255f;
          v[plane + i] = g / 255f;
          v[2 * plane + i] = b / 255f;
        } else {
          v[i] = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) / 255f;
        }
      }
    }
    return new Image(channels, h, w, v);
  }

  /** {@code height × width} 8-bit gray pixels starting at {@code offset} (an IDX image) as one plane. */
  public static Image ofGray(byte[] pixels, int offset, int height, int width) {
    int n = height * width;
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (pixels[offset + i] & 0xFF) / 255f;
    }
    return new Image(1, height, width, v);
  }
}
