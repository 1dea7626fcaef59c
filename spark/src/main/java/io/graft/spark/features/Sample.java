package io.graft.spark.features;

import java.io.Serializable;

/**
 * One image as it travels through Spark: its {@code index} in a dataset (-1 when the source has none), its {@code key}
 * (a path, or null for index-keyed sources), its {@code label} (-1: unlabelled) and, for sources that carry them,
 * the encoded file's {@code bytes} (null when the executor reads the image itself, e.g. from IDX files).
 */
public record Sample(long index, String key, int label, byte[] bytes) implements Serializable {
  private static final long serialVersionUID = 1L;

  /** What names this sample in errors and outputs: its key, else {@code #index}. */
  public String name() {
    return key != null ? key : "#" + index;
  }
}
