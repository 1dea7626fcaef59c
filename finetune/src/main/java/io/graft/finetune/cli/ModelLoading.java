package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.layers.Module;
import io.graft.zoo.models.Classifier;
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

  /** The model with its head sized as in the weights file, weights loaded strictly. */
  static Module load(String model, Path weights) {
    if (!Zoo.names().contains(model)) {
      throw new GraftException("unknown model '" + model + "'; known: " + Zoo.names());
    }
    StateDict sd = Weights.read(weights);
    Module probe = Zoo.create(model, 2);
    String key = ((Classifier) probe).headPath() + ".weight";
    Tensor w = sd.get(key);
    if (w == null || w.rank() != 2) {
      throw new GraftException(weights + ": no head weight '" + key + "' for " + model);
    }
    Module m = Zoo.create(model, Math.toIntExact(w.shape()[0]));
    m.loadStateDict(sd, true);
    return m;
  }
}
