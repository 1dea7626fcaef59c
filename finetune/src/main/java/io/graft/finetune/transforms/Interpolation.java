package io.graft.finetune.transforms;

import io.graft.core.GraftException;
import java.util.Locale;

/**
 * How {@link Resize} samples: torchvision's {@code InterpolationMode} on tensors (0.14, {@code antialias=False}), i.e.
 * PyTorch's {@code upsample_bilinear2d} / {@code upsample_bicubic2d} with {@code align_corners=False}.
 */
public enum Interpolation {
  /** Bilinear: the two nearest samples per axis (torchvision's default). */
  BILINEAR,
  /**
   * Bicubic: Keys' cubic convolution with a = -0.75 over four samples per axis, edges replicated; the result may leave
   * the input's range (torchvision does not clamp float images). EfficientNet's and Swin's ImageNet weights were
   * evaluated with it.
   */
  BICUBIC;

  /** torchvision's name: {@code "bilinear"} or {@code "bicubic"}. */
  public String torchName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** By torchvision's name; throws {@link GraftException} naming the value for any other. */
  public static Interpolation of(String name) {
    for (Interpolation i : values()) {
      if (i.torchName().equals(name)) {
        return i;
      }
    }
    throw new GraftException("interpolation '" + name + "' is not supported; Graft resizes with 'bilinear' or "
        + "'bicubic'");
  }
}
