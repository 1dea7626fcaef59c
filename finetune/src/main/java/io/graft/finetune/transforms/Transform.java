package io.graft.finetune.transforms;

import io.graft.core.random.Rng;
import io.graft.finetune.data.Image;

/**
 * An image transform with torchvision's name and semantics (on float images in [0, 1], as torchvision's tensor
 * transforms). Random transforms draw only from the generator they are given — the {@link
 * io.graft.finetune.data.DataLoader} passes one seeded by (seed, epoch, example) — so augmentation is reproducible
 * and independent of thread scheduling.
 *
 * <p>Transforms are {@link java.io.Serializable} (plain settings, no state), so graft-spark ships the same
 * preprocessing to Spark executors; a lambda written as a {@code Transform} is serializable too.
 */
@FunctionalInterface
public interface Transform extends java.io.Serializable {
  /**
   * The transformed image (a new one; {@code img} is not changed), drawing any randomness from {@code rng} only; throws
   * {@link io.graft.core.GraftException} for an image the transform cannot take.
   */
  Image apply(Image img, Rng rng);

  /** Whether the output depends only on the input (no randomness): required for the feature cache. */
  default boolean deterministic() {
    return true;
  }

  /** {@code this} then {@code next}. */
  default Transform then(Transform next) {
    return Compose.of(this, next);
  }
}
