package io.graft.zoo.onnx.export;

import io.graft.core.GraftException;
import io.graft.core.Shapes;
import io.graft.core.io.AtomicFiles;
import io.graft.layers.Module;
import io.graft.zoo.onnx.proto.Onnx;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A Graft module as a standard ONNX model (opset {@value #OPSET}, IR version {@value #IR_VERSION}) of its eval-mode
 * forward: input {@value #INPUT} {@code [batch, C, H, W]} float32 with a free batch dimension, output
 * {@value #OUTPUT}, the parameters and running statistics as initializers under their state-dict (torchvision)
 * names. Dropout is left out; BatchNorm normalises with its running statistics.
 *
 * <p>The module tree is walked by layer type, one {@link Emitter} per type ({@link LayerEmitters} for the layers,
 * {@link ZooEmitters} for the zoo's architectures and blocks); a module of any other type is refused with its path.
 * Height and width stay free ({@code height}, {@code width}) unless some op only holds for the example size (an
 * adaptive pooling to more than 1×1, or a flatten of spatial positions, as in VGG and smallcnn): the input then
 * declares the example's height and width.
 *
 * <p>The example input must be a tensor Graft could allocate ({@link Shapes#checkNew}: fewer than 2^31 elements).
 * Memory: the model being written holds a float32 copy of every exported tensor in direct (off-heap) buffers, copied
 * from the tensors in 1 MiB chunks (no copy on the Java heap; direct memory, {@code -XX:MaxDirectMemorySize},
 * defaults to the maximum heap size); the initializers are limited to {@link ExportGraph#MAX_INITIALIZER_BYTES} (a
 * protobuf message's 2 GiB limit).
 */
public final class OnnxExport {
  /** The ONNX operator set the graphs use. */
  public static final int OPSET = 17;
  /** The IR version matching opset 17 (ONNX 1.12). */
  public static final long IR_VERSION = 8;
  /** The input's name. */
  public static final String INPUT = "input";
  /** The output's name. */
  public static final String OUTPUT = "logits";

  private static final Map<Class<?>, Emitter<?>> EMITTERS;

  static {
    Map<Class<?>, Emitter<?>> m = new HashMap<>();
    LayerEmitters.register(m);
    ZooEmitters.register(m);
    ConvBackboneEmitters.register(m);
    EMITTERS = Collections.unmodifiableMap(m);
  }

  private OnnxExport() {}

  /**
   * The ONNX model of {@code model}'s eval-mode forward on inputs {@code [batch, inputShape...]}.
   *
   * @param inputShape {@code [C, H, W]} of an example input (the sizes the graph is checked, and possibly fixed, at)
   * @param metadata written as the model's {@code metadata_props} (for example {@code graft.classes})
   */
  public static Onnx.ModelProto toModel(Module model, long[] inputShape, Map<String, String> metadata) {
    if (inputShape.length != 3 || Arrays.stream(inputShape).anyMatch(d -> d < 1 || d > Integer.MAX_VALUE)) {
      throw new GraftException("export: the example input shape must be [C, H, W] with positive sizes, got "
          + Arrays.toString(inputShape));
    }
    long[] example = Shapes.checkNew("export", new long[] {1, inputShape[0], inputShape[1], inputShape[2]});
    ExportGraph g = new ExportGraph(INPUT, example);
    String out = new Emission(g, EMITTERS).emit("", model, INPUT);
    g.renameOutput(out, OUTPUT);
    long[] outShape = g.shape(OUTPUT);

    Onnx.TensorShapeProto.Builder in = Onnx.TensorShapeProto.newBuilder().addDim(dim("batch")).addDim(dim(example[1]));
    if (g.fixedSpatialSize()) {
      in.addDim(dim(example[2])).addDim(dim(example[3]));
    } else {
      in.addDim(dim("height")).addDim(dim("width"));
    }
    Onnx.TensorShapeProto.Builder o = Onnx.TensorShapeProto.newBuilder().addDim(dim("batch"));
    for (int k = 1; k < outShape.length; k++) {
      o.addDim(dim(outShape[k]));
    }
    Onnx.GraphProto.Builder graph = Onnx.GraphProto.newBuilder().setName(model.typeName())
        .addInput(value(INPUT, in)).addOutput(value(OUTPUT, o)).addAllNode(g.nodes())
        .addAllInitializer(g.initializers());
    Onnx.ModelProto.Builder m = Onnx.ModelProto.newBuilder().setIrVersion(IR_VERSION).setProducerName("graft")
        .setProducerVersion(version()).setGraph(graph)
        .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET));
    metadata.forEach((k, v) -> m.addMetadataProps(Onnx.StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
    return m.build();
  }

  /** Writes a model to {@code out} atomically (the old file or the new one, never a torn one). */
  public static void write(Path out, Onnx.ModelProto model) {
    AtomicFiles.write(out, model::writeTo);
  }

  /** The input's dimensions as written: a size, or the name of a free dimension. */
  public static List<String> inputDims(Onnx.ModelProto model) {
    return model.getGraph().getInput(0).getType().getTensorType().getShape().getDimList().stream()
        .map(d -> d.hasDimParam() ? d.getDimParam() : String.valueOf(d.getDimValue())).toList();
  }

  private static Onnx.TensorShapeProto.Dimension dim(long size) {
    return Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(size).build();
  }

  private static Onnx.TensorShapeProto.Dimension dim(String param) {
    return Onnx.TensorShapeProto.Dimension.newBuilder().setDimParam(param).build();
  }

  private static Onnx.ValueInfoProto value(String name, Onnx.TensorShapeProto.Builder shape) {
    return Onnx.ValueInfoProto.newBuilder().setName(name).setType(Onnx.TypeProto.newBuilder().setTensorType(
        Onnx.TypeProto.Tensor.newBuilder().setElemType(Onnx.TensorProto.DataType.FLOAT_VALUE).setShape(shape)))
        .build();
  }

  private static String version() {
    String v = OnnxExport.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }
}
