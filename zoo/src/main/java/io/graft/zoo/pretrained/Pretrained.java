package io.graft.zoo.pretrained;

import io.graft.core.GraftException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * torchvision's ImageNet checkpoints for the zoo architectures: file name, the sha256 prefix torchvision embeds
 * in it (and checks, as {@code torch.hub} does), classes and preprocessing. Graft never downloads: {@link #find}
 * looks in a local cache folder and, when the file is absent, says exactly which file to fetch and where to put
 * it.
 *
 * <p>The default cache folder is {@code $GRAFT_HOME/weights}, else {@code ~/.cache/graft/weights}; a file already in
 * PyTorch's hub cache ({@code ~/.cache/torch/hub/checkpoints}) is found too.
 */
public enum Pretrained {
  /** torchvision's {@code ResNet18_Weights.IMAGENET1K_V1} for {@code resnet18}: resize 256, crop 224, top-1 69.758%. */
  RESNET18_IMAGENET1K_V1("resnet18", "resnet18-f37072fd.pth", 256, 69.758),
  /** torchvision's {@code ResNet34_Weights.IMAGENET1K_V1} for {@code resnet34}: resize 256, crop 224, top-1 73.314%. */
  RESNET34_IMAGENET1K_V1("resnet34", "resnet34-b627a593.pth", 256, 73.314),
  /** torchvision's {@code ResNet50_Weights.IMAGENET1K_V1} for {@code resnet50}: resize 256, crop 224, top-1 76.130%. */
  RESNET50_IMAGENET1K_V1("resnet50", "resnet50-0676ba61.pth", 256, 76.130),
  /** torchvision's {@code ResNet50_Weights.IMAGENET1K_V2} for {@code resnet50}: resize 232, crop 224, top-1 80.858%. */
  RESNET50_IMAGENET1K_V2("resnet50", "resnet50-11ad3fa6.pth", 232, 80.858),
  /**
   * torchvision's {@code ResNet101_Weights.IMAGENET1K_V1} for {@code resnet101}: resize 256, crop 224, top-1 77.374%.
   */
  RESNET101_IMAGENET1K_V1("resnet101", "resnet101-63fe2227.pth", 256, 77.374),
  /**
   * torchvision's {@code ResNet101_Weights.IMAGENET1K_V2} for {@code resnet101}: resize 232, crop 224, top-1 81.886%.
   */
  RESNET101_IMAGENET1K_V2("resnet101", "resnet101-cd907fc2.pth", 232, 81.886),
  /**
   * torchvision's {@code ResNet152_Weights.IMAGENET1K_V1} for {@code resnet152}: resize 256, crop 224, top-1 78.312%.
   */
  RESNET152_IMAGENET1K_V1("resnet152", "resnet152-394f9c45.pth", 256, 78.312),
  /**
   * torchvision's {@code ResNet152_Weights.IMAGENET1K_V2} for {@code resnet152}: resize 232, crop 224, top-1 82.284%.
   */
  RESNET152_IMAGENET1K_V2("resnet152", "resnet152-f82ba261.pth", 232, 82.284),
  /** torchvision's {@code VGG11_Weights.IMAGENET1K_V1} for {@code vgg11}: resize 256, crop 224, top-1 69.020%. */
  VGG11_IMAGENET1K_V1("vgg11", "vgg11-8a719046.pth", 256, 69.020),
  /** torchvision's {@code VGG11_BN_Weights.IMAGENET1K_V1} for {@code vgg11_bn}: resize 256, crop 224, top-1 70.370%. */
  VGG11_BN_IMAGENET1K_V1("vgg11_bn", "vgg11_bn-6002323d.pth", 256, 70.370),
  /** torchvision's {@code VGG13_Weights.IMAGENET1K_V1} for {@code vgg13}: resize 256, crop 224, top-1 69.928%. */
  VGG13_IMAGENET1K_V1("vgg13", "vgg13-19584684.pth", 256, 69.928),
  /** torchvision's {@code VGG13_BN_Weights.IMAGENET1K_V1} for {@code vgg13_bn}: resize 256, crop 224, top-1 71.586%. */
  VGG13_BN_IMAGENET1K_V1("vgg13_bn", "vgg13_bn-abd245e5.pth", 256, 71.586),
  /** torchvision's {@code VGG16_Weights.IMAGENET1K_V1} for {@code vgg16}: resize 256, crop 224, top-1 71.592%. */
  VGG16_IMAGENET1K_V1("vgg16", "vgg16-397923af.pth", 256, 71.592),
  /** torchvision's {@code VGG16_BN_Weights.IMAGENET1K_V1} for {@code vgg16_bn}: resize 256, crop 224, top-1 73.360%. */
  VGG16_BN_IMAGENET1K_V1("vgg16_bn", "vgg16_bn-6c64b313.pth", 256, 73.360),
  /** torchvision's {@code VGG19_Weights.IMAGENET1K_V1} for {@code vgg19}: resize 256, crop 224, top-1 72.376%. */
  VGG19_IMAGENET1K_V1("vgg19", "vgg19-dcbb9e9d.pth", 256, 72.376),
  /** torchvision's {@code VGG19_BN_Weights.IMAGENET1K_V1} for {@code vgg19_bn}: resize 256, crop 224, top-1 74.218%. */
  VGG19_BN_IMAGENET1K_V1("vgg19_bn", "vgg19_bn-c79401a0.pth", 256, 74.218),
  /**
   * torchvision's {@code MobileNet_V2_Weights.IMAGENET1K_V1} for {@code mobilenet_v2}: resize 256, crop 224, top-1
   * 71.878%.
   */
  MOBILENET_V2_IMAGENET1K_V1("mobilenet_v2", "mobilenet_v2-b0353104.pth", 256, 71.878),
  /**
   * torchvision's {@code MobileNet_V2_Weights.IMAGENET1K_V2} for {@code mobilenet_v2}: resize 232, crop 224, top-1
   * 72.154%.
   */
  MOBILENET_V2_IMAGENET1K_V2("mobilenet_v2", "mobilenet_v2-7ebf99e0.pth", 232, 72.154),
  /**
   * torchvision's {@code EfficientNet_B0_Weights.IMAGENET1K_V1} for {@code efficientnet_b0}:
   * resize 256 (bicubic), crop 224, top-1 77.692%.
   */
  EFFICIENTNET_B0_IMAGENET1K_V1("efficientnet_b0",
      "efficientnet_b0_rwightman-3dd342df.pth", 256, 224, "bicubic", 77.692),
  /**
   * torchvision's {@code EfficientNet_B1_Weights.IMAGENET1K_V1} for {@code efficientnet_b1}:
   * resize 256 (bicubic), crop 240, top-1 78.642%.
   */
  EFFICIENTNET_B1_IMAGENET1K_V1("efficientnet_b1",
      "efficientnet_b1_rwightman-533bc792.pth", 256, 240, "bicubic", 78.642),
  /**
   * torchvision's {@code EfficientNet_B1_Weights.IMAGENET1K_V2} for {@code efficientnet_b1}:
   * resize 255 (bilinear), crop 240, top-1 79.838%.
   */
  EFFICIENTNET_B1_IMAGENET1K_V2("efficientnet_b1", "efficientnet_b1-c27df63c.pth", 255, 240, "bilinear", 79.838),
  /**
   * torchvision's {@code EfficientNet_B2_Weights.IMAGENET1K_V1} for {@code efficientnet_b2}:
   * resize 288 (bicubic), crop 288, top-1 80.608%.
   */
  EFFICIENTNET_B2_IMAGENET1K_V1("efficientnet_b2",
      "efficientnet_b2_rwightman-bcdf34b7.pth", 288, 288, "bicubic", 80.608),
  /**
   * torchvision's {@code EfficientNet_B3_Weights.IMAGENET1K_V1} for {@code efficientnet_b3}:
   * resize 320 (bicubic), crop 300, top-1 82.008%.
   */
  EFFICIENTNET_B3_IMAGENET1K_V1("efficientnet_b3",
      "efficientnet_b3_rwightman-cf984f9c.pth", 320, 300, "bicubic", 82.008),
  /**
   * torchvision's {@code MobileNet_V3_Large_Weights.IMAGENET1K_V1} for {@code mobilenet_v3_large}:
   * resize 256 (bilinear), crop 224, top-1 74.042%.
   */
  MOBILENET_V3_LARGE_IMAGENET1K_V1("mobilenet_v3_large",
      "mobilenet_v3_large-8738ca79.pth", 256, 224, "bilinear", 74.042),
  /**
   * torchvision's {@code MobileNet_V3_Large_Weights.IMAGENET1K_V2} for {@code mobilenet_v3_large}:
   * resize 232 (bilinear), crop 224, top-1 75.274%.
   */
  MOBILENET_V3_LARGE_IMAGENET1K_V2("mobilenet_v3_large",
      "mobilenet_v3_large-5c1a4163.pth", 232, 224, "bilinear", 75.274),
  /**
   * torchvision's {@code MobileNet_V3_Small_Weights.IMAGENET1K_V1} for {@code mobilenet_v3_small}:
   * resize 256 (bilinear), crop 224, top-1 67.668%.
   */
  MOBILENET_V3_SMALL_IMAGENET1K_V1("mobilenet_v3_small",
      "mobilenet_v3_small-047dcff4.pth", 256, 224, "bilinear", 67.668),
  /**
   * torchvision's {@code ConvNeXt_Tiny_Weights.IMAGENET1K_V1} for {@code convnext_tiny}:
   * resize 236 (bilinear), crop 224, top-1 82.520%.
   */
  CONVNEXT_TINY_IMAGENET1K_V1("convnext_tiny", "convnext_tiny-983f1562.pth", 236, 224, "bilinear", 82.520),
  /**
   * torchvision's {@code ConvNeXt_Small_Weights.IMAGENET1K_V1} for {@code convnext_small}:
   * resize 230 (bilinear), crop 224, top-1 83.616%.
   */
  CONVNEXT_SMALL_IMAGENET1K_V1("convnext_small", "convnext_small-0c510722.pth", 230, 224, "bilinear", 83.616),
  /**
   * torchvision's {@code ViT_B_16_Weights.IMAGENET1K_V1} for {@code vit_b_16}:
   * resize 256 (bilinear), crop 224, top-1 81.072%.
   */
  VIT_B_16_IMAGENET1K_V1("vit_b_16", "vit_b_16-c867db91.pth", 256, 224, "bilinear", 81.072),
  /**
   * torchvision's {@code ViT_B_16_Weights.IMAGENET1K_SWAG_LINEAR_V1} for {@code vit_b_16}:
   * resize 224 (bicubic), crop 224, top-1 81.886%.
   */
  VIT_B_16_IMAGENET1K_SWAG_LINEAR_V1("vit_b_16", "vit_b_16_lc_swag-4e70ced5.pth", 224, 224, "bicubic", 81.886),
  /**
   * torchvision's {@code ViT_B_32_Weights.IMAGENET1K_V1} for {@code vit_b_32}:
   * resize 256 (bilinear), crop 224, top-1 75.912%.
   */
  VIT_B_32_IMAGENET1K_V1("vit_b_32", "vit_b_32-d86f8d99.pth", 256, 224, "bilinear", 75.912),
  /**
   * torchvision's {@code RegNet_Y_400MF_Weights.IMAGENET1K_V1} for {@code regnet_y_400mf}:
   * resize 256 (bilinear), crop 224, top-1 74.046%.
   */
  REGNET_Y_400MF_IMAGENET1K_V1("regnet_y_400mf", "regnet_y_400mf-c65dace8.pth", 256, 224, "bilinear", 74.046),
  /**
   * torchvision's {@code RegNet_Y_400MF_Weights.IMAGENET1K_V2} for {@code regnet_y_400mf}:
   * resize 232 (bilinear), crop 224, top-1 75.804%.
   */
  REGNET_Y_400MF_IMAGENET1K_V2("regnet_y_400mf", "regnet_y_400mf-e6988f5f.pth", 232, 224, "bilinear", 75.804),
  /**
   * torchvision's {@code RegNet_Y_800MF_Weights.IMAGENET1K_V1} for {@code regnet_y_800mf}:
   * resize 256 (bilinear), crop 224, top-1 76.420%.
   */
  REGNET_Y_800MF_IMAGENET1K_V1("regnet_y_800mf", "regnet_y_800mf-1b27b58c.pth", 256, 224, "bilinear", 76.420),
  /**
   * torchvision's {@code RegNet_Y_800MF_Weights.IMAGENET1K_V2} for {@code regnet_y_800mf}:
   * resize 232 (bilinear), crop 224, top-1 78.828%.
   */
  REGNET_Y_800MF_IMAGENET1K_V2("regnet_y_800mf", "regnet_y_800mf-58fc7688.pth", 232, 224, "bilinear", 78.828),
  /**
   * torchvision's {@code Swin_T_Weights.IMAGENET1K_V1} for {@code swin_t}:
   * resize 232 (bicubic), crop 224, top-1 81.474%.
   */
  SWIN_T_IMAGENET1K_V1("swin_t", "swin_t-704ceda3.pth", 232, 224, "bicubic", 81.474);

  /** ImageNet normalisation (torchvision's constants). */
  public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
  /** ImageNet per-channel standard deviations, RGB order, for inputs scaled to [0, 1] (torchvision's constants). */
  public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};
  /** Where torchvision publishes the checkpoints; Graft only names it in messages and never downloads. */
  public static final String BASE_URL = "https://download.pytorch.org/models/";

  private final String model;
  private final String fileName;
  private final int resizeSize;
  private final int cropSize;
  private final String interpolation;
  private final double top1;

  Pretrained(String model, String fileName, int resizeSize, double top1) {
    this(model, fileName, resizeSize, 224, "bilinear", top1);
  }

  Pretrained(String model, String fileName, int resizeSize, int cropSize, String interpolation, double top1) {
    this.model = model;
    this.fileName = fileName;
    this.resizeSize = resizeSize;
    this.cropSize = cropSize;
    this.interpolation = interpolation;
    this.top1 = top1;
  }

  /** The zoo architecture name ({@code Zoo.create(model(), 1000)}). */
  public String model() {
    return model;
  }

  /** The checkpoint's file name as torchvision publishes it, e.g. {@code resnet18-f37072fd.pth}. */
  public String fileName() {
    return fileName;
  }

  /** The checkpoint's download address ({@link #BASE_URL} plus {@link #fileName()}), for the user to fetch. */
  public String url() {
    return BASE_URL + fileName;
  }

  /** The leading hex digits of the file's sha256, as in its name. */
  public String sha256Prefix() {
    return fileName.substring(fileName.lastIndexOf('-') + 1, fileName.lastIndexOf('.'));
  }

  /** The number of classes the head outputs: 1000 (ImageNet-1k). */
  public int numClasses() {
    return 1000;
  }

  /**
   * Evaluation preprocessing: resize the short side to this (with {@link #interpolation()}), then center-crop {@link
   * #cropSize()}.
   */
  public int resizeSize() {
    return resizeSize;
  }

  /** Evaluation preprocessing: the center crop's side (224 for most; 240, 288 and 300 for EfficientNet-B1..B3). */
  public int cropSize() {
    return cropSize;
  }

  /**
   * Evaluation preprocessing: how the resize samples, by torchvision's name: {@code "bilinear"}, or {@code "bicubic"}
   * (EfficientNet's V1 weights, Swin, ViT's SWAG weights).
   */
  public String interpolation() {
    return interpolation;
  }

  /** torchvision's reported ImageNet top-1 accuracy, for reference. */
  public double top1() {
    return top1;
  }

  /** The default weights for an architecture (V1, what {@code pretrained=True} gave). */
  public static Pretrained forModel(String model) {
    return Arrays.stream(values()).filter(p -> p.model.equals(model)).findFirst().orElseThrow(
        () -> new GraftException("no pretrained weights known for '" + model + "'; known: " + Arrays.stream(values())
            .map(p -> p.model).distinct().toList()));
  }

  /** By enum name ({@code "RESNET50_IMAGENET1K_V2"}) or model name ({@code "resnet50"}, the V1 weights). */
  public static Pretrained of(String name) {
    for (Pretrained p : values()) {
      if (p.name().equalsIgnoreCase(name)) {
        return p;
      }
    }
    return forModel(name.toLowerCase(Locale.ROOT));
  }

  /**
   * The cache folder {@link #find} uses by default: {@code $GRAFT_HOME/weights} if {@code GRAFT_HOME} is set, else
   * {@code ~/.cache/graft/weights}.
   */
  public static Path defaultCache() {
    String home = System.getenv("GRAFT_HOME");
    return home != null ? Path.of(home, "weights") : Path.of(System.getProperty("user.home"), ".cache", "graft",
        "weights");
  }

  /** The checkpoint in {@code cache} (or torch's hub cache), hash-checked; otherwise an error saying what to do. */
  public Path find(Path cache) {
    Optional<Path> hit = candidates(cache).stream().filter(Files::isRegularFile).findFirst();
    if (hit.isEmpty()) {
      throw new GraftException("pretrained weights " + name() + " not found. Graft does not download; fetch\n  "
          + url() + "\nand save it as\n  " + cache.resolve(fileName).toAbsolutePath() + "\n(for example: mkdir -p "
          + cache.toAbsolutePath() + " && curl -L -o " + cache.resolve(fileName).toAbsolutePath() + " " + url() + ")");
    }
    verify(hit.get());
    return hit.get();
  }

  private List<Path> candidates(Path cache) {
    return List.of(cache.resolve(fileName),
        Path.of(System.getProperty("user.home"), ".cache", "torch", "hub", "checkpoints", fileName));
  }

  /** Checks the file's sha256 against the prefix in its name (what torchvision's check_hash does). */
  public void verify(Path file) {
    String hex = sha256(file);
    if (!hex.startsWith(sha256Prefix())) {
      throw new GraftException(file + ": sha256 " + hex + " does not start with " + sha256Prefix()
          + ": the download is incomplete or a different file; delete it and fetch " + url() + " again");
    }
  }

  static String sha256(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (IOException e) {
      throw new GraftException(file + ": cannot read: " + e.getMessage(), e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
