package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import io.graft.zoo.onnx.OnnxClassifier;
import io.graft.zoo.onnx.OnnxModel;
import io.graft.zoo.pretrained.Pretrained;
import io.graft.zoo.weights.Weights;
import java.nio.file.Path;

/**
 * Building a zoo model and loading weights for the commands: a file, or {@code imagenet} (the pretrained cache).
 * Public for graft-spark, whose executors build the same models from the same files.
 */
public final class ModelLoading {
  private ModelLoading() {}

  static Path resolve(String model, String weights) {
    if (weights.equals("imagenet")) {
      return Pretrained.forModel(model).find(Pretrained.defaultCache());
    }
    return Path.of(weights);
  }

  /**
   * An ONNX classifier ({@link OnnxClassifier}: the graph up to its last Gemm, that Gemm as the head), with
   * fine-tuned weights loaded strictly when given (a safetensors file written by {@code graft finetune --onnx}).
   */
  public static OnnxClassifier loadOnnx(Path onnx, Path weights) {
    OnnxClassifier m = OnnxClassifier.of(OnnxModel.load(onnx));
    if (weights != null) {
      StateDict sd = Weights.read(weights);
      Tensor w = sd.get("fc.weight");
      if (w == null || w.rank() != 2) {
        throw new GraftException(weights + ": no head weight 'fc.weight' for an ONNX classifier");
      }
      m.replaceHead(Math.toIntExact(w.shape()[0]));
      Weights.loadInto(m, sd, weights, true);
    }
    return m;
  }

  /** The square image size an ONNX graph's input declares ([N, 3, S, S]), or {@code fallback}. */
  static int onnxImageSize(OnnxClassifier m, int fallback) {
    OnnxModel b = m.backbone();
    long[] s = b.inputShape(b.inputNames().get(0));
    if (s != null && s.length == 4 && s[2] > 0 && s[2] == s[3]) {
      return Math.toIntExact(s[2]);
    }
    return fallback;
  }

  /** The model with its head sized as in the weights file (or {@code numClasses} when given), loaded strictly. */
  public static Module load(String model, Path weights, Integer numClasses) {
    if (numClasses == null) {
      return Weights.loadZoo(model, weights);
    }
    Module m = Zoo.create(model, numClasses);
    Weights.loadInto(m, weights, true);
    return m;
  }
}
