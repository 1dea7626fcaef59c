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
    MODELS.put("vit_b_16", VisionTransformer::vitB16);
    MODELS.put("vit_b_32", VisionTransformer::vitB32);
    MODELS.put("efficientnet_b0", EfficientNet::efficientnetB0);
    MODELS.put("efficientnet_b1", EfficientNet::efficientnetB1);
    MODELS.put("efficientnet_b2", EfficientNet::efficientnetB2);
    MODELS.put("efficientnet_b3", EfficientNet::efficientnetB3);
    MODELS.put("mobilenet_v3_large", MobileNetV3::large);
    MODELS.put("mobilenet_v3_small", MobileNetV3::small);
    MODELS.put("regnet_y_400mf", RegNet::regnetY400mf);
    MODELS.put("regnet_y_800mf", RegNet::regnetY800mf);
    MODELS.put("convnext_tiny", ConvNeXt::convnextTiny);
    MODELS.put("convnext_small", ConvNeXt::convnextSmall);
    MODELS.put("swin_t", SwinTransformer::swinT);
    MODELS.put("smallcnn", SmallCNN::new);
  }

  private Zoo() {}

  /**
   * The names {@link #create} accepts, in registration order ({@code "resnet18"}, ..., {@code "vgg11_bn"}, ..., {@code
   * "mobilenet_v2"}, {@code "smallcnn"}).
   */
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
    if (name.startsWith("vit_")) {
      return "heads.head";
    }
    if (name.startsWith("efficientnet_b")) {
      return "classifier.1";
    }
    if (name.startsWith("mobilenet_v3")) {
      return "classifier.3";
    }
    if (name.startsWith("regnet")) {
      return "fc";
    }
    if (name.startsWith("convnext_")) {
      return "classifier.2";
    }
    return name.equals("mobilenet_v2") ? "classifier.1" : "head";
  }

  /**
   * The input an architecture takes, {@code [channels, height, width]} with -1 for a size it adapts to: smallcnn
   * {@code [1, 28, 28]} (its fc1 is sized for 28×28), the ViTs {@code [3, 224, 224]} (their positional embedding is
   * sized for 224²), the others {@code [3, -1, -1]} (adaptive pooling).
   */
  public static long[] inputShape(String name) {
    if (!MODELS.containsKey(name)) {
      throw new GraftException("unknown model '" + name + "'; known: " + MODELS.keySet());
    }
    if (name.startsWith("vit_")) {
      return new long[] {3, 224, 224};
    }
    return name.equals("smallcnn") ? new long[] {1, 28, 28} : new long[] {3, -1, -1};
  }

  /**
   * The zoo architecture whose state dict has these keys' structure, or null: ResNets by their blocks per layer
   * (and Bottleneck's conv3), VGGs by their convolution count (and BatchNorm), MobileNetV2 and smallcnn by their
   * own keys, EfficientNet B0 and B3 by their block count (B1 and B2 share theirs: null), MobileNetV3 by its last
   * layer's index, RegNetY by its blocks per stage. Only names are read (no model is built), for hints such as "the
   * file looks like resnet34".
   */
  public static String identify(java.util.Collection<String> keys) {
    java.util.Set<String> k = new java.util.HashSet<>(keys);
    if (k.contains("fc1.weight") && k.contains("features.0.weight") && k.contains("head.weight")) {
      return "smallcnn";
    }
    if (k.contains("features.18.0.weight") && k.contains("features.1.conv.0.0.weight")) {
      return "mobilenet_v2";
    }
    if (k.contains("features.1.0.layer_scale") && k.contains("classifier.2.weight")) {
      int blocks = 0;
      while (k.contains("features.5." + blocks + ".layer_scale")) {
        blocks++;
      }
      return blocks == 9 ? "convnext_tiny" : blocks == 27 ? "convnext_small" : null;
    }
    if (k.contains("conv1.weight") && k.contains("layer1.0.conv1.weight")) {
      int[] blocks = new int[4];
      for (int l = 0; l < 4; l++) {
        while (k.contains("layer" + (l + 1) + "." + blocks[l] + ".conv1.weight")) {
          blocks[l]++;
        }
      }
      boolean bottleneck = k.contains("layer1.0.conv3.weight");
      String b = java.util.Arrays.toString(blocks);
      if (!bottleneck) {
        return b.equals("[2, 2, 2, 2]") ? "resnet18" : b.equals("[3, 4, 6, 3]") ? "resnet34" : null;
      }
      return b.equals("[3, 4, 6, 3]") ? "resnet50" : b.equals("[3, 4, 23, 3]") ? "resnet101"
          : b.equals("[3, 8, 36, 3]") ? "resnet152" : null;
    }
    if (k.contains("features.0.weight") && k.contains("classifier.6.weight")) {
      int convs = 0;
      boolean bn = false;
      for (String key : k) {
        if (key.startsWith("features.") && key.endsWith(".running_mean")) {
          bn = true;
        }
      }
      for (int i = 0; i < 64; i++) {
        if (k.contains("features." + i + ".weight") && !k.contains("features." + i + ".running_mean")) {
          convs++;
        }
      }
      String name = switch (convs) {
        case 8 -> "vgg11";
        case 10 -> "vgg13";
        case 13 -> "vgg16";
        case 16 -> "vgg19";
        default -> null;
      };
      return name == null ? null : bn ? name + "_bn" : name;
    }
    if (k.contains("features.1.0.block.0.0.weight") && k.contains("classifier.1.weight")) {
      int blocks = 0;
      for (int s = 1; s <= 7; s++) {
        for (int b = 0; k.contains("features." + s + "." + b + ".block.0.0.weight"); b++) {
          blocks++;
        }
      }
      // B1 and B2 both have 23 blocks and differ only in widths, which keys alone do not show
      return blocks == 16 ? "efficientnet_b0" : blocks == 26 ? "efficientnet_b3" : null;
    }
    if (k.contains("features.1.block.0.0.weight") && k.contains("classifier.3.weight")) {
      return k.contains("features.16.0.weight") ? "mobilenet_v3_large"
          : k.contains("features.12.0.weight") ? "mobilenet_v3_small" : null;
    }
    if (k.contains("stem.0.weight") && k.contains("trunk_output.block1.block1-0.f.a.0.weight")) {
      int[] blocks = new int[4];
      for (int s = 0; s < 4; s++) {
        while (k.contains("trunk_output.block" + (s + 1) + ".block" + (s + 1) + "-" + blocks[s] + ".f.a.0.weight")) {
          blocks[s]++;
        }
      }
      String b = java.util.Arrays.toString(blocks);
      return b.equals("[1, 3, 6, 6]") ? "regnet_y_400mf" : b.equals("[1, 3, 8, 2]") ? "regnet_y_800mf" : null;
    }
    return null;
  }

  /** {@link #create} as a {@link Classifier} (every zoo model is one). */
  public static Classifier classifier(String name, int numClasses) {
    return (Classifier) create(name, numClasses);
  }
}
