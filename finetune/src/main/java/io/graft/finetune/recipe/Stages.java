package io.graft.finetune.recipe;

import io.graft.core.Parameter;
import io.graft.layers.Module;
import io.graft.layers.Sequential;
import io.graft.zoo.models.Classifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A backbone's stages in forward order, by module path, for "fine-tune the last K stages" and layer-wise learning
 * rates: the root's children that hold parameters, with torchvision's flat layer lists — {@code Sequential}
 * children named {@code features} or {@code classifier} — expanded one level, and the head excluded. ResNet: conv1, bn1, layer1..layer4; VGG:
 * features.0, features.1, ..., classifier.0, classifier.3; MobileNetV2: features.0..18; smallcnn: features.0,
 * features.1, features.4, features.5, fc1. An architecture that names its own stages ({@link Classifier#stages()})
 * gives them instead. A stage is a module path or several parameter patterns joined by {@code +} (ViT's first stage
 * {@code conv_proj+class_token+encoder.pos_embedding} owns the bare parameters that enter with the patch embedding);
 * {@link #patterns} splits one.
 */
public final class Stages {
  private Stages() {}

  /**
   * The stage paths of {@code model} in forward order, its classifier head excluded (see the class comment for each zoo
   * model's list).
   */
  public static List<String> of(Module model) {
    if (model instanceof Classifier c && c.stages().isPresent()) {
      return List.copyOf(c.stages().get());
    }
    String head = model instanceof Classifier c ? c.headPath() : "";
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, Module> e : model.namedChildren().entrySet()) {
      add(out, e.getKey(), e.getValue(), head, true);
    }
    return out;
  }

  private static void add(List<String> out, String path, Module m, String head, boolean expand) {
    if (path.equals(head) || m.parameters().isEmpty()) {
      return;
    }
    boolean holdsHead = head.startsWith(path + ".");
    boolean flatList = expand && m instanceof Sequential
        && (path.equals("features") || path.equals("classifier"));
    if (flatList || holdsHead) {
      for (Map.Entry<String, Module> c : m.namedChildren().entrySet()) {
        add(out, path + "." + c.getKey(), c.getValue(), head, false);
      }
      return;
    }
    out.add(path);
  }

  /**
   * The parameter patterns of a stage (see {@link io.graft.layers.params.Params#select}): its module path, or the
   * patterns it joins with {@code +}.
   */
  public static String[] patterns(String stage) {
    return stage.split("\\+");
  }

  /** The parameter patterns of several stages, in order. */
  public static String[] patterns(java.util.Collection<String> stages) {
    return stages.stream().flatMap(s -> java.util.Arrays.stream(patterns(s))).toArray(String[]::new);
  }

  /** Parameters of the backbone (everything but the head). */
  static boolean inHead(String param, String head) {
    return param.startsWith(head + ".");
  }

  static void requireAll(Module model, boolean flag) {
    for (Parameter p : model.parameters()) {
      p.requiresGrad(flag);
    }
  }
}
