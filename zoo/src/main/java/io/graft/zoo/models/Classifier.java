package io.graft.zoo.models;

import io.graft.core.GraftException;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import java.util.List;
import java.util.Optional;

/**
 * A classification network with one final {@link Linear} head at a known path: {@code fc} (ResNet),
 * {@code classifier.6} (VGG), {@code classifier.1} (MobileNetV2). Replacing the head is the first step of every
 * transfer-learning recipe.
 */
public interface Classifier {
  /** The dotted path of the final Linear layer. */
  String headPath();

  /**
   * The backbone's stages in forward order, by module path, head excluded, when the architecture names them itself
   * (e.g. a ViT's encoder blocks); empty to let callers derive them from the module tree (see the finetune module's
   * {@code Stages}). Every stage must select parameters: a module path, or parameter patterns joined by {@code +}
   * (ViT's {@code conv_proj+class_token+encoder.pos_embedding}, for parameters that belong to no module of their own).
   */
  default Optional<List<String>> stages() {
    return Optional.empty();
  }

  /** The module itself (every Classifier is a Module). */
  default Module module() {
    return (Module) this;
  }

  /**
   * The final Linear layer at {@link #headPath()}; throws {@link GraftException} if that path holds no Linear (e.g.
   * after replacing the head by another module type).
   */
  default Linear head() {
    return module().get(headPath(), Linear.class);
  }

  /** Features entering the head (512 for ResNet-18, 2048 for ResNet-50, 4096 for VGG, 1280 for MobileNetV2). */
  default long numFeatures() {
    return head().inFeatures();
  }

  /** Replaces the head by a freshly initialised {@code Linear(numFeatures, numClasses)}; returns the new head. */
  default Linear replaceHead(int numClasses) {
    if (numClasses < 1) {
      throw new GraftException("replaceHead: numClasses must be positive, got " + numClasses);
    }
    Linear fresh = new Linear(numFeatures(), numClasses);
    module().replace(headPath(), fresh);
    return fresh;
  }
}
