package io.graft.zoo.onnx.export;

import static io.graft.zoo.onnx.export.Emission.join;

import io.graft.layers.Module;
import io.graft.layers.conv.Conv2d;
import io.graft.zoo.models.MobileNetV2;
import io.graft.zoo.models.ResNet;
import io.graft.zoo.models.SmallCNN;
import io.graft.zoo.models.VGG;
import java.util.List;

/**
 * The emitters for the zoo's architectures and blocks: each writes its module's {@code forward} as the wiring of
 * its named children (the children themselves go through {@link Emission#emit}), so that a replaced or
 * fine-tuned head is exported as whatever module it is.
 */
final class ZooEmitters {
  private ZooEmitters() {}

  static void register(java.util.Map<Class<?>, Emitter<?>> m) {
    m.put(ResNet.class, (Emitter<ResNet>) ZooEmitters::resnet);
    m.put(ResNet.BasicBlock.class, (Emitter<ResNet.BasicBlock>) ZooEmitters::basicBlock);
    m.put(ResNet.Bottleneck.class, (Emitter<ResNet.Bottleneck>) ZooEmitters::bottleneck);
    m.put(VGG.class, (Emitter<VGG>) ZooEmitters::vgg);
    m.put(MobileNetV2.class, (Emitter<MobileNetV2>) ZooEmitters::mobilenetV2);
    m.put(MobileNetV2.InvertedResidual.class, (Emitter<MobileNetV2.InvertedResidual>) ZooEmitters::invertedResidual);
    m.put(SmallCNN.class, (Emitter<SmallCNN>) ZooEmitters::smallCnn);
  }

  /** Emits the named children of {@code m} one after the other. */
  private static String chain(Emission e, String path, Module m, String x, String... children) {
    for (String c : children) {
      x = e.child(path, m, c, x);
    }
    return x;
  }

  /** conv1, bn1, relu, maxpool, layer1..4, avgpool, flatten, fc. */
  private static String resnet(Emission e, String path, ResNet m, String x) {
    x = chain(e, path, m, x, "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool");
    return e.child(path, m, "fc", e.flatten(path, x));
  }

  /** relu(bn2(conv2(relu(bn1(conv1(x))))) + downsample(x)). */
  private static String basicBlock(Emission e, String path, ResNet.BasicBlock m, String x) {
    String out = chain(e, path, m, x, "conv1", "bn1", "relu", "conv2", "bn2");
    return e.child(path, m, "relu", e.add(path, out, identity(e, path, m, x)));
  }

  /** relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + downsample(x)). */
  private static String bottleneck(Emission e, String path, ResNet.Bottleneck m, String x) {
    String out = chain(e, path, m, x, "conv1", "bn1", "relu", "conv2", "bn2", "relu", "conv3", "bn3");
    return e.child(path, m, "relu", e.add(path, out, identity(e, path, m, x)));
  }

  private static String identity(Emission e, String path, Module block, String x) {
    return block.namedChildren().containsKey("downsample") ? e.child(path, block, "downsample", x) : x;
  }

  /** features, avgpool, flatten, classifier. */
  private static String vgg(Emission e, String path, VGG m, String x) {
    x = chain(e, path, m, x, "features", "avgpool");
    return e.child(path, m, "classifier", e.flatten(path, x));
  }

  /** features, global average pooling (torchvision's functional adaptive_avg_pool2d), flatten, classifier. */
  private static String mobilenetV2(Emission e, String path, MobileNetV2 m, String x) {
    x = e.child(path, m, "features", x);
    long[] s = e.graph().shape(x);
    String pooled = e.graph().node("GlobalAveragePool", join(path, "pool"), new long[] {s[0], s[1], 1, 1},
        List.of(x));
    e.graph().markSizeIndependent(pooled);
    return e.child(path, m, "classifier", e.flatten(path, pooled));
  }

  /** conv(x), plus x when the block keeps its shape: stride 1 and as many channels out as in (torchvision's rule). */
  private static String invertedResidual(Emission e, String path, MobileNetV2.InvertedResidual m, String x) {
    String y = e.child(path, m, "conv", x);
    boolean stride1 = m.namedModules().values().stream().filter(c -> c instanceof Conv2d)
        .allMatch(c -> ((Conv2d) c).options().strideH() == 1 && ((Conv2d) c).options().strideW() == 1);
    boolean residual = stride1 && e.graph().shape(x)[1] == e.graph().shape(y)[1];
    return residual ? e.add(path, x, y) : y;
  }

  /** features, flatten, fc1, relu, head. */
  private static String smallCnn(Emission e, String path, SmallCNN m, String x) {
    x = e.flatten(path, e.child(path, m, "features", x));
    return chain(e, path, m, x, "fc1", "relu", "head");
  }
}
