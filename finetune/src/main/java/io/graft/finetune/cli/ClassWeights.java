package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.finetune.data.Dataset;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code --class-weights}: the {@code weight} of PyTorch's {@code CrossEntropyLoss}, one per class. {@code auto}
 * weighs class c by {@code n / (classes × count_c)} over the training images (scikit-learn's "balanced"); a file
 * holds one finite, non-negative weight per class in class order (whitespace or comma separated), at most
 * {@link #MAX_FILE_BYTES} bytes.
 */
final class ClassWeights {
  /** Largest weights file read: far more than any class count needs. */
  static final int MAX_FILE_BYTES = 1 << 20;

  private ClassWeights() {}

  static float[] of(String spec, Dataset train, int numClasses) {
    return spec.equals("auto") ? balanced(train, numClasses) : read(Path.of(spec), numClasses);
  }

  static float[] balanced(Dataset train, int numClasses) {
    long[] count = new long[numClasses];
    for (int i = 0; i < train.size(); i++) {
      count[train.label(i)]++;
    }
    float[] w = new float[numClasses];
    for (int c = 0; c < numClasses; c++) {
      if (count[c] == 0) {
        throw new GraftException("--class-weights auto: class '" + train.classes().get(c) + "' has no training "
            + "images, so its weight is undefined");
      }
      w[c] = (float) ((double) train.size() / ((double) numClasses * count[c]));
    }
    return w;
  }

  static float[] read(Path file, int numClasses) {
    byte[] bytes;
    try (InputStream in = Files.newInputStream(file)) {
      bytes = in.readNBytes(MAX_FILE_BYTES + 1);
    } catch (IOException e) {
      throw new GraftException("--class-weights " + file + ": cannot read: " + e.getMessage(), e);
    }
    if (bytes.length > MAX_FILE_BYTES) {
      throw new GraftException("--class-weights " + file + ": larger than " + MAX_FILE_BYTES + " bytes; expected "
          + numClasses + " numbers");
    }
    String text = new String(bytes, StandardCharsets.UTF_8).trim();
    String[] parts = text.isEmpty() ? new String[0] : text.split("[\\s,]+");
    if (parts.length != numClasses) {
      throw new GraftException("--class-weights " + file + ": " + parts.length + " weights for " + numClasses
          + " classes; expected one per class, in class order");
    }
    float[] w = new float[numClasses];
    boolean any = false;
    for (int c = 0; c < numClasses; c++) {
      double v;
      try {
        v = Double.parseDouble(parts[c]);
      } catch (NumberFormatException e) {
        throw new GraftException("--class-weights " + file + ": weight " + (c + 1) + " '" + parts[c]
            + "' is not a number");
      }
      if (!Double.isFinite(v) || v < 0) {
        throw new GraftException("--class-weights " + file + ": weight " + (c + 1) + " is " + v
            + "; weights must be finite and not negative");
      }
      w[c] = (float) v;
      any |= v > 0;
    }
    if (!any) {
      throw new GraftException("--class-weights " + file + ": every weight is 0");
    }
    return w;
  }
}
