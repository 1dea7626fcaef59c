package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import io.graft.zoo.pretrained.Pretrained;
import io.graft.zoo.weights.Weights;
import java.nio.file.Path;

/** Building a zoo model and loading weights for the commands: a file, or {@code imagenet} (the pretrained cache). */
final class ModelLoading {
  private ModelLoading() {}

  static Path resolve(String model, String weights) {
    if (weights.equals("imagenet")) {
      return Pretrained.forModel(model).find(Pretrained.defaultCache());
    }
    return Path.of(weights);
  }

  /**
   * The model with its head sized as in the weights file (or {@code numClasses} when given), weights loaded
   * strictly; the file is read once.
   */
  static Module load(String model, Path weights, Integer numClasses) {
    String key = Zoo.headPath(model) + ".weight";
    StateDict sd = Weights.read(weights);
    int classes;
    if (numClasses != null) {
      classes = numClasses;
    } else {
      Tensor w = sd.get(key);
      if (w == null || w.rank() != 2) {
        throw new GraftException(weights + ": no head weight '" + key + "' for " + model + "; pass --num-classes");
      }
      classes = Math.toIntExact(w.shape()[0]);
    }
    Module m = Zoo.create(model, classes);
    Weights.loadInto(m, sd, weights, true);
    return m;
  }
}
