package io.graft.finetune.transforms;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import io.graft.finetune.data.Image;

/**
 * Converts to grayscale with {@code outputChannels} (1 or 3 identical) channels, as torchvision's
 * {@code Grayscale(num_output_channels)}: RGB uses ITU-R 601-2 luma; a 1-channel image is replicated.
 */
public final class Grayscale implements Transform {
  private final int outputChannels;

  /** Grayscale with PyTorch's {@code num_output_channels} 1 or 3; throws {@link GraftException} for any other count. */
  public Grayscale(int outputChannels) {
    if (outputChannels != 1 && outputChannels != 3) {
      throw new GraftException("Grayscale: num_output_channels must be 1 or 3, got " + outputChannels);
    }
    this.outputChannels = outputChannels;
  }

  @Override
  public Image apply(Image img, Rng rng) {
    float[] g = ColorJitter.grayscale(img);
    float[] out = new float[outputChannels * g.length];
    for (int c = 0; c < outputChannels; c++) {
      System.arraycopy(g, 0, out, c * g.length, g.length);
    }
    return new Image(outputChannels, img.height(), img.width(), out);
  }

  @Override
  public String toString() {
    return "Grayscale(" + outputChannels + ")";
  }
}
