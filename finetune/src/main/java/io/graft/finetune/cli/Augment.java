package io.graft.finetune.cli;

import io.graft.core.GraftException;
import java.util.Locale;

/**
 * {@code --augment}: the random part of the training transforms. {@code none}: the evaluation transform (resize,
 * centre crop, normalise), deterministic, so feature extraction can train on cached features; {@code flip}: that
 * plus a random horizontal flip; {@code standard}: torchvision's ImageNet recipe, RandomResizedCrop and flip;
 * {@code strong}: standard plus ColorJitter(0.4, 0.4, 0.4). Without the option, feature extraction uses
 * {@code none} and the other strategies {@code standard} ({@code none} for 1×28×28 {@code smallcnn} data, as
 * before).
 */
enum Augment {
  NONE, FLIP, STANDARD, STRONG;

  static Augment parse(String s) {
    try {
      return valueOf(s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new GraftException("--augment: unknown preset '" + s + "'; expected none, flip, standard or strong");
    }
  }

  /** The default for a strategy and model when {@code --augment} is not given. */
  static Augment defaultFor(boolean featureExtract, boolean smallcnn) {
    return featureExtract || smallcnn ? NONE : STANDARD;
  }

  String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
