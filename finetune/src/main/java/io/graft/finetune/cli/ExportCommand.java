package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import io.graft.zoo.onnx.export.OnnxExport;
import io.graft.zoo.onnx.proto.Onnx;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code graft export --model NAME --weights FILE --onnx OUT}: a zoo model with its weights (a fine-tuned head
 * included: the head's shape in the file decides the classes) as a standard ONNX graph, opset 17, written
 * atomically. The class names a fine-tune run saved travel in the ONNX metadata as {@code graft.classes}.
 */
@Command(name = "export", mixinStandardHelpOptions = true, showDefaultValues = true,
    description = "Write a zoo model with its weights as an ONNX graph (opset 17, eval mode): input 'input' "
        + "[batch, C, H, W] float32, output 'logits', initializers under the state-dict names.")
final class ExportCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, description = "architecture, e.g. resnet18 (${COMPLETION-CANDIDATES})",
      completionCandidates = PredictCommand.ModelNames.class)
  String model;

  @Option(names = "--weights", required = true, description = "a .pth, .safetensors or .onnx (PRESERVE export) file "
      + "for --model, or 'imagenet'")
  String weights;

  @Option(names = "--onnx", required = true, description = "the .onnx file to write")
  Path onnx;

  @Option(names = "--num-classes", description = "classes of the head (default: read from the weights)")
  Integer numClasses;

  @Option(names = "--image-size", defaultValue = "224", description = "height and width of the example input the "
      + "graph is built for; it stays free where the architecture allows (ResNet, MobileNetV2), and is fixed where "
      + "it does not (VGG's 7x7 pooling; smallcnn is always 28)")
  int imageSize;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    if (!Zoo.names().contains(model)) {
      throw new GraftException("unknown model '" + model + "'; known: " + Zoo.names());
    }
    if (!onnx.getFileName().toString().endsWith(".onnx")) {
      throw new GraftException("--onnx must name a .onnx file, got " + onnx);
    }
    if (imageSize < 1) {
      throw new GraftException("--image-size must be positive, got " + imageSize);
    }
    Path w = ModelLoading.resolve(model, weights);
    if (w.toAbsolutePath().normalize().equals(onnx.toAbsolutePath().normalize())) {
      throw new GraftException("--weights and --onnx are the same file: " + onnx);
    }
    List<String> classes = ClassNames.saved(w);
    if (classes != null && numClasses != null && numClasses != classes.size()) {
      throw new GraftException("--num-classes " + numClasses + ", but " + w + " was trained on " + classes.size()
          + " classes " + classes);
    }
    Module m = ModelLoading.load(model, w, numClasses);
    long[] shape = Zoo.inputShape(model);
    for (int k = 1; k < 3; k++) {
      shape[k] = shape[k] < 0 ? imageSize : shape[k];
    }
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("graft.model", model);
    if (classes != null) {
      meta.putAll(ClassNames.metadata(classes));
    }
    Onnx.ModelProto proto = OnnxExport.toModel(m, shape, meta);
    OnnxExport.write(onnx, proto);
    spec.commandLine().getOut().printf("%s (%s) -> %s: opset %d, input '%s' %s, output '%s'%s%n", model, w, onnx,
        OnnxExport.OPSET, OnnxExport.INPUT, OnnxExport.inputDims(proto), OnnxExport.OUTPUT,
        classes == null ? "" : ", classes " + classes);
    return 0;
  }
}
