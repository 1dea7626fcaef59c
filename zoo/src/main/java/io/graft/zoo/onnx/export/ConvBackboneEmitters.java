package io.graft.zoo.onnx.export;

import static io.graft.zoo.onnx.export.Emission.join;

import io.graft.layers.Module;
import io.graft.layers.StochasticDepth;
import io.graft.layers.activation.Hardsigmoid;
import io.graft.layers.activation.Hardswish;
import io.graft.layers.block.SqueezeExcitation;
import io.graft.zoo.models.EfficientNet;
import io.graft.zoo.models.MobileNetV3;
import io.graft.zoo.models.RegNet;
import java.util.List;
import java.util.Map;

/**
 * The emitters of the modern convolutional backbones (EfficientNet, MobileNetV3, RegNetY) and the layers only they
 * use: Hardswish ({@code HardSwish}, opset 14), Hardsigmoid ({@code HardSigmoid}, alpha 1/6), StochasticDepth (the
 * identity: exports are eval-mode) and SqueezeExcitation ({@code x · gate(...)} as a broadcasting {@code Mul}).
 */
final class ConvBackboneEmitters {
  private ConvBackboneEmitters() {}

  static void register(Map<Class<?>, Emitter<?>> m) {
    m.put(Hardswish.class, (Emitter<Hardswish>) (e, p, mod, x) ->
        e.graph().node("HardSwish", p, e.graph().shape(x), List.of(x)));
    m.put(Hardsigmoid.class, (Emitter<Hardsigmoid>) (e, p, mod, x) ->
        e.graph().node("HardSigmoid", p, e.graph().shape(x), List.of(x), ExportGraph.f("alpha", 1f / 6)));
    m.put(StochasticDepth.class, (Emitter<StochasticDepth>) (e, p, mod, x) -> x);
    m.put(SqueezeExcitation.class, (Emitter<SqueezeExcitation>) ConvBackboneEmitters::squeezeExcitation);
    m.put(EfficientNet.class, (Emitter<EfficientNet>) ConvBackboneEmitters::pooledClassifier);
    m.put(EfficientNet.MBConv.class, (Emitter<EfficientNet.MBConv>) ConvBackboneEmitters::mbConv);
    m.put(MobileNetV3.class, (Emitter<MobileNetV3>) ConvBackboneEmitters::pooledClassifier);
    m.put(MobileNetV3.InvertedResidual.class,
        (Emitter<MobileNetV3.InvertedResidual>) ConvBackboneEmitters::invertedResidual);
    m.put(RegNet.class, (Emitter<RegNet>) ConvBackboneEmitters::regnet);
    m.put(RegNet.Named.class, (Emitter<RegNet.Named>) ConvBackboneEmitters::inOrder);
    m.put(RegNet.ResBottleneckBlock.class, (Emitter<RegNet.ResBottleneckBlock>) ConvBackboneEmitters::resBottleneck);
  }

  /** Every child in registration order (a Sequential with torchvision's names). */
  private static String inOrder(Emission e, String path, Module m, String x) {
    for (String c : m.namedChildren().keySet()) {
      x = e.child(path, m, c, x);
    }
    return x;
  }

  /** x · scale_activation(fc2(activation(fc1(avgpool(x))))). */
  private static String squeezeExcitation(Emission e, String path, SqueezeExcitation m, String x) {
    String s = x;
    for (String c : new String[] {"avgpool", "fc1", "activation", "fc2", "scale_activation"}) {
      s = e.child(path, m, c, s);
    }
    return e.graph().node("Mul", join(path, "scale"), e.graph().shape(x), List.of(s, x));
  }

  /** features, avgpool, flatten, classifier (EfficientNet, MobileNetV3). */
  private static String pooledClassifier(Emission e, String path, Module m, String x) {
    x = e.child(path, m, "avgpool", e.child(path, m, "features", x));
    return e.child(path, m, "classifier", e.flatten(path, x));
  }

  /** block(x), plus x after stochastic depth when the block keeps its shape. */
  private static String mbConv(Emission e, String path, EfficientNet.MBConv m, String x) {
    String y = e.child(path, m, "block", x);
    return m.residual() ? e.add(path, e.child(path, m, "stochastic_depth", y), x) : y;
  }

  /** block(x), plus x when the block keeps its shape. */
  private static String invertedResidual(Emission e, String path, MobileNetV3.InvertedResidual m, String x) {
    String y = e.child(path, m, "block", x);
    return m.residual() ? e.add(path, y, x) : y;
  }

  /** stem, trunk_output, avgpool, flatten, fc. */
  private static String regnet(Emission e, String path, RegNet m, String x) {
    x = e.child(path, m, "avgpool", e.child(path, m, "trunk_output", e.child(path, m, "stem", x)));
    return e.child(path, m, "fc", e.flatten(path, x));
  }

  /** activation(proj(x) + f(x)), or activation(x + f(x)) without proj. */
  private static String resBottleneck(Emission e, String path, RegNet.ResBottleneckBlock m, String x) {
    String y = e.child(path, m, "f", x);
    String skip = m.namedChildren().containsKey("proj") ? e.child(path, m, "proj", x) : x;
    return e.child(path, m, "activation", e.add(path, skip, y));
  }
}
