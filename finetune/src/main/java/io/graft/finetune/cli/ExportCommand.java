package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.core.io.Safetensors;
import io.graft.layers.Module;
import io.graft.layers.lora.Lora;
import io.graft.layers.lora.LoraAdapters;
import io.graft.zoo.models.Classifier;
import io.graft.zoo.models.Zoo;
import io.graft.zoo.onnx.export.OnnxExport;
import io.graft.zoo.onnx.proto.Onnx;
import java.nio.file.Files;
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
 * atomically. The class names a fine-tune run saved travel in the ONNX metadata as {@code graft.classes}. With
 * {@code --safetensors OUT} the state dict is written too (or instead), under torchvision's names; with {@code
 * --adapters DIR --merge} LoRA adapters are merged into the base {@code --weights} first.
 */
@Command(name = "export", mixinStandardHelpOptions = true, showDefaultValues = true,
    description = "Write a zoo model with its weights as an ONNX graph (opset 17, eval mode): input 'input' "
        + "[batch, C, H, W] float32, output 'logits', initializers under the state-dict names; and/or as safetensors "
        + "under torchvision's names. LoRA adapters (--adapters DIR --merge) are merged into the base weights first.")
final class ExportCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, description = "architecture, e.g. resnet18 (${COMPLETION-CANDIDATES})",
      completionCandidates = PredictCommand.ModelNames.class)
  String model;

  @Option(names = "--weights", required = true, description = "a .pth, .safetensors or .onnx (PRESERVE export) file "
      + "for --model, or 'imagenet'")
  String weights;

  @Option(names = "--onnx", description = "the .onnx file to write")
  Path onnx;

  @Option(names = "--safetensors", paramLabel = "FILE", description = "the .safetensors file to write: the model's "
      + "state dict under torchvision's names (with --onnx, or instead of it)")
  Path safetensors;

  @Option(names = "--adapters", paramLabel = "DIR", description = "LoRA adapters to merge into --weights (the base "
      + "model): a directory with adapter_model.safetensors and adapter_config.json, as graft finetune --strategy lora "
      + "or PEFT's save_pretrained writes them; a head saved with them (modules_to_save) replaces the base's. Needs "
      + "--merge")
  Path adapters;

  @Option(names = "--merge", description = "merge the --adapters into the base weights (W + alpha/r B A) and export "
      + "the plain model, under torchvision's names")
  boolean merge;

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
    if (onnx == null && safetensors == null) {
      throw new GraftException("give --onnx FILE.onnx and/or --safetensors FILE.safetensors");
    }
    if (onnx != null && !onnx.getFileName().toString().endsWith(".onnx")) {
      throw new GraftException("--onnx must name a .onnx file, got " + onnx);
    }
    if (safetensors != null && !safetensors.getFileName().toString().endsWith(".safetensors")) {
      throw new GraftException("--safetensors must name a .safetensors file, got " + safetensors);
    }
    if ((adapters != null) != merge) {
      throw new GraftException(merge ? "--merge needs --adapters DIR (the LoRA adapters to merge into --weights)"
          : "--adapters needs --merge: an exported model holds plain weights, so the adapters are merged into them");
    }
    if (adapters != null && numClasses != null) {
      throw new GraftException("--num-classes with --adapters: the head saved with the adapters decides the classes");
    }
    if (imageSize < 1) {
      throw new GraftException("--image-size must be positive, got " + imageSize);
    }
    Path w = ModelLoading.resolve(model, weights);
    for (Path o : new Path[] {onnx, safetensors}) {
      if (o != null && w.toAbsolutePath().normalize().equals(o.toAbsolutePath().normalize())) {
        throw new GraftException("--weights and the output are the same file: " + o);
      }
    }
    List<String> classes = adapters != null && Files.isRegularFile(adapters.resolve(ClassNames.FILE))
        ? ClassNames.read(adapters.resolve(ClassNames.FILE)) : ClassNames.saved(w);
    if (classes != null && numClasses != null && numClasses != classes.size()) {
      throw new GraftException("--num-classes " + numClasses + ", but " + w + " was trained on " + classes.size()
          + " classes " + classes);
    }
    Module m = ModelLoading.load(model, w, numClasses);
    if (adapters != null) {
      mergeAdapters(m);
    }
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("graft.model", model);
    if (classes != null) {
      meta.putAll(ClassNames.metadata(classes));
    }
    if (safetensors != null) {
      Safetensors.write(safetensors, m.stateDict(), meta);
      spec.commandLine().getOut().printf("%s (%s%s) -> %s: %d tensors, torchvision names%n", model, w,
          adapters == null ? "" : " + " + adapters + ", merged", safetensors, m.stateDict().size());
    }
    if (onnx == null) {
      return 0;
    }
    long[] shape = Zoo.inputShape(model);
    for (int k = 1; k < 3; k++) {
      shape[k] = shape[k] < 0 ? imageSize : shape[k];
    }
    Onnx.ModelProto proto = OnnxExport.toModel(m, shape, meta);
    OnnxExport.write(onnx, proto);
    spec.commandLine().getOut().printf("%s (%s%s) -> %s: opset %d, input '%s' %s, output '%s'%s%n", model, w,
        adapters == null ? "" : " + " + adapters + ", merged", onnx,
        OnnxExport.OPSET, OnnxExport.INPUT, OnnxExport.inputDims(proto), OnnxExport.OUTPUT,
        classes == null ? "" : ", classes " + classes);
    return 0;
  }

  /**
   * Loads the LoRA adapters of {@code --adapters} into {@code m} and merges them: when the adapters carry the zoo
   * head (PEFT's modules_to_save) with another class count, the head is first resized to it (the adapters' loader
   * then checks every shape and key).
   */
  private void mergeAdapters(Module m) {
    LoraAdapters.Saved saved = LoraAdapters.readConfig(adapters, m);
    if (m instanceof Classifier c && saved.config().modulesToSave().contains(c.headPath())) {
      Path file = adapters.resolve(LoraAdapters.WEIGHTS);
      if (Files.isRegularFile(file)) {
        String key = LoraAdapters.PREFIX + c.headPath() + ".weight";
        for (Safetensors.Entry e : Safetensors.open(file).entries()) {
          long[] s = e.shape();
          if (e.name().equals(key) && s.length == 2 && s[1] == c.numFeatures() && s[0] != c.head().outFeatures()
              && s[0] >= 1 && s[0] <= Integer.MAX_VALUE) {
            c.replaceHead((int) s[0]);
          }
        }
      }
    }
    LoraAdapters.load(m, adapters);
    Lora.mergeAndUnload(m);
  }
}
