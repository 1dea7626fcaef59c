package io.graft.finetune.transforms;

import io.graft.core.GraftException;
import io.graft.finetune.data.Image;

/** Crop, pad, flip and bilinear or bicubic resize on {@link Image}s, shared by the geometric transforms. */
final class Geometry {
  private Geometry() {}

  /** The {@code h×w} window at (top, left); parts outside the image are zero, as torchvision's crop pads. */
  static Image crop(Image img, int top, int left, int h, int w) {
    if (h < 1 || w < 1) {
      throw new GraftException("crop: size must be positive, got " + h + "x" + w);
    }
    float[] out = Image.allocate(img.channels(), h, w, "crop");
    for (int c = 0; c < img.channels(); c++) {
      for (int y = 0; y < h; y++) {
        int sy = top + y;
        if (sy < 0 || sy >= img.height()) {
          continue;
        }
        for (int x = 0; x < w; x++) {
          int sx = left + x;
          if (sx >= 0 && sx < img.width()) {
            out[(c * h + y) * w + x] = img.data()[(c * img.height() + sy) * img.width() + sx];
          }
        }
      }
    }
    return new Image(img.channels(), h, w, out);
  }

  static Image hflip(Image img) {
    float[] out = new float[img.numel()];
    int w = img.width();
    for (int row = 0; row < img.channels() * img.height(); row++) {
      for (int x = 0; x < w; x++) {
        out[row * w + x] = img.data()[row * w + (w - 1 - x)];
      }
    }
    return new Image(img.channels(), img.height(), w, out);
  }

  /**
   * Bilinear resize with {@code align_corners=False} and no antialiasing: PyTorch's {@code upsample_bilinear2d},
   * which torchvision 0.14's {@code Resize} uses on tensors.
   */
  static Image resize(Image img, int oh, int ow) {
    if (oh < 1 || ow < 1) {
      throw new GraftException("resize: size must be positive, got " + oh + "x" + ow);
    }
    int ih = img.height();
    int iw = img.width();
    if (ih == oh && iw == ow) {
      return img;
    }
    float sh = (float) ih / oh;
    float sw = (float) iw / ow;
    int[] x0 = new int[ow];
    int[] x1 = new int[ow];
    float[] lx = new float[ow];
    for (int x = 0; x < ow; x++) {
      float src = Math.max(sw * (x + 0.5f) - 0.5f, 0f);
      x0[x] = (int) src;
      x1[x] = x0[x] + (x0[x] < iw - 1 ? 1 : 0);
      lx[x] = src - x0[x];
    }
    float[] out = Image.allocate(img.channels(), oh, ow, "resize");
    float[] in = img.data();
    for (int c = 0; c < img.channels(); c++) {
      int base = c * ih * iw;
      for (int y = 0; y < oh; y++) {
        float src = Math.max(sh * (y + 0.5f) - 0.5f, 0f);
        int y0 = (int) src;
        int y1 = y0 + (y0 < ih - 1 ? 1 : 0);
        float ly = src - y0;
        float hy = 1 - ly;
        for (int x = 0; x < ow; x++) {
          float hx = 1 - lx[x];
          out[(c * oh + y) * ow + x] = hy * (hx * in[base + y0 * iw + x0[x]] + lx[x] * in[base + y0 * iw + x1[x]])
              + ly * (hx * in[base + y1 * iw + x0[x]] + lx[x] * in[base + y1 * iw + x1[x]]);
        }
      }
    }
    return new Image(img.channels(), oh, ow, out);
  }

  /** {@link #resize(Image, int, int)} or {@link #resizeBicubic}, by {@code mode}. */
  static Image resize(Image img, int oh, int ow, Interpolation mode) {
    return mode == Interpolation.BICUBIC ? resizeBicubic(img, oh, ow) : resize(img, oh, ow);
  }

  /**
   * Bicubic resize with {@code align_corners=False} and no antialiasing: PyTorch's {@code upsample_bicubic2d} (Keys'
   * kernel, a = -0.75; source coordinates not clamped at 0; taps outside the image replicate its edge), which
   * torchvision 0.14's {@code Resize(..., BICUBIC)} uses on tensors. Like PyTorch's CPU kernel, each output
   * interpolates four rows along x, then those four values along y.
   */
  static Image resizeBicubic(Image img, int oh, int ow) {
    if (oh < 1 || ow < 1) {
      throw new GraftException("resize: size must be positive, got " + oh + "x" + ow);
    }
    int ih = img.height();
    int iw = img.width();
    if (ih == oh && iw == ow) {
      return img;
    }
    int[][] xi = new int[ow][];
    float[][] xw = new float[ow][];
    for (int x = 0; x < ow; x++) {
      float src = (float) iw / ow * (x + 0.5f) - 0.5f;
      int x0 = (int) Math.floor(src);
      xi[x] = taps(x0, iw);
      xw[x] = cubicWeights(src - x0);
    }
    float[] out = Image.allocate(img.channels(), oh, ow, "resize");
    float[] in = img.data();
    for (int c = 0; c < img.channels(); c++) {
      int base = c * ih * iw;
      for (int y = 0; y < oh; y++) {
        float src = (float) ih / oh * (y + 0.5f) - 0.5f;
        int y0 = (int) Math.floor(src);
        int[] yi = taps(y0, ih);
        float[] yw = cubicWeights(src - y0);
        for (int x = 0; x < ow; x++) {
          int[] t = xi[x];
          float[] w = xw[x];
          float acc = 0f;
          for (int k = 0; k < 4; k++) {
            int row = base + yi[k] * iw;
            float v = in[row + t[0]] * w[0] + in[row + t[1]] * w[1] + in[row + t[2]] * w[2] + in[row + t[3]] * w[3];
            acc += v * yw[k];
          }
          out[(c * oh + y) * ow + x] = acc;
        }
      }
    }
    return new Image(img.channels(), oh, ow, out);
  }

  /** The four sample indices around {@code i0} (i0-1 .. i0+2), clamped into [0, n). */
  private static int[] taps(int i0, int n) {
    int[] t = new int[4];
    for (int k = 0; k < 4; k++) {
      t[k] = Math.min(Math.max(i0 - 1 + k, 0), n - 1);
    }
    return t;
  }

  /** Keys' cubic convolution weights (a = -0.75) of the four taps for fractional offset {@code t} in [0, 1). */
  private static float[] cubicWeights(float t) {
    final float a = -0.75f;
    float x1 = t + 1;
    float x2 = 1 - t;
    float x3 = x2 + 1;
    return new float[] {
        ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a,
        ((a + 2) * t - (a + 3)) * t * t + 1,
        ((a + 2) * x2 - (a + 3)) * x2 * x2 + 1,
        ((a * x3 - 5 * a) * x3 + 8 * a) * x3 - 4 * a};
  }

  /** torchvision's Resize(int): the shorter side becomes {@code size}, the other keeps the aspect ratio. */
  static int[] shorterSide(int h, int w, int size) {
    long oh = h <= w ? size : (long) size * h / w;
    long ow = h <= w ? (long) size * w / h : size;
    Image.checkSize(oh, ow, "Resize(" + size + ") of a " + w + "x" + h + " image");
    return new int[] {(int) oh, (int) ow};
  }
}
