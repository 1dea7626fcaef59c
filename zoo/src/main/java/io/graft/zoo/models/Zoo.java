package io.graft.zoo.models;

import io.graft.core.GraftException;
import io.graft.layers.Module;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/** The architectures by torchvision name: {@code Zoo.create("resnet50", 10)}. */
public final class Zoo {
  private static final Map<String, IntFunction<Module>> MODELS = new LinkedHashMap<>();

  static {
    MODELS.put("resnet18", ResNet::resnet18);
    MODELS.put("resnet34", ResNet::resnet34);
    MODELS.put("resnet50", ResNet::resnet50);
    MODELS.put("resnet101", ResNet::resnet101);
    MODELS.put("resnet152", ResNet::resnet152);
    MODELS.put("vgg11", VGG::vgg11);
    MODELS.put("vgg11_bn", VGG::vgg11Bn);
    MODELS.put("vgg13", VGG::vgg13);
    MODELS.put("vgg13_bn", VGG::vgg13Bn);
    MODELS.put("vgg16", VGG::vgg16);
    MODELS.put("vgg16_bn", VGG::vgg16Bn);
    MODELS.put("vgg19", VGG::vgg19);
    MODELS.put("vgg19_bn", VGG::vgg19Bn);
    MODELS.put("mobilenet_v2", MobileNetV2::new);
    MODELS.put("smallcnn", SmallCNN::new);
  }

  private Zoo() {}

  public static List<String> names() {
    return List.copyOf(MODELS.keySet());
  }

  /** A freshly initialised model with {@code numClasses} outputs (1000 for ImageNet weights). */
  public static Module create(String name, int numClasses) {
    IntFunction<Module> f = MODELS.get(name);
    if (f == null) {
      throw new GraftException("unknown model '" + name + "'; known: " + MODELS.keySet());
    }
    if (numClasses < 1) {
      throw new GraftException(name + ": numClasses must be positive, got " + numClasses);
    }
    return f.apply(numClasses);
  }

  /** The head's dotted path for an architecture, without building it ({@code fc}, {@code classifier.6}, ...). */
  public static String headPath(String name) {
    if (!MODELS.containsKey(name)) {
      throw new GraftException("unknown model '" + name + "'; known: " + MODELS.keySet());
    }
    if (name.startsWith("resnet")) {
      return "fc";
    }
    if (name.startsWith("vgg")) {
      return "classifier.6";
    }
    return name.equals("mobilenet_v2") ? "classifier.1" : "head";
  }

  /** {@link #create} as a {@link Classifier} (every zoo model is one). */
  public static Classifier classifier(String name, int numClasses) {
    return (Classifier) create(name, numClasses);
  }
}
