package io.graft.zoo.onnx.export;

import com.google.protobuf.UnsafeByteOperations;
import io.graft.core.GraftException;
import io.graft.core.ShapeException;
import io.graft.core.Tensor;
import io.graft.core.io.TensorBytes;
import io.graft.zoo.onnx.proto.Onnx;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The ONNX graph an export is building: its nodes in topological order, its float32 initializers (named as in the
 * state dict), and the static shape of every value so far. Shapes are tracked for one example input size (the
 * batch dimension stays free in the written graph); an emitter whose ONNX ops only hold for that size (an adaptive
 * pooling to more than 1×1) calls {@link #fixSpatialSize}, and the input then declares that height and width.
 *
 * <p>Each initializer's float32 bytes live in a direct (off-heap) buffer until the model is written, copied from the
 * tensor in 1 MiB chunks: the Java heap holds no copy of the weights, and the direct buffers need as much direct
 * memory as the weights ({@code -XX:MaxDirectMemorySize}, by default the maximum heap size). The serialised model is limited to 2 GiB (protobuf's own limit):
 * {@link #addInitializer} counts the bytes and refuses the initializer that would pass
 * {@link #MAX_INITIALIZER_BYTES}.
 */
public final class ExportGraph {
  /** Initializer bytes an export holds at most (protobuf's 2 GiB message limit, less room for the graph). */
  public static final long MAX_INITIALIZER_BYTES = (1L << 31) - (64L << 20);

  private final List<Onnx.NodeProto> nodes = new ArrayList<>();
  private final Map<String, Onnx.TensorProto> initializers = new LinkedHashMap<>();
  private final Map<String, long[]> shapes = new HashMap<>();
  private final Set<String> names = new HashSet<>();
  private long initializerBytes;
  private boolean fixedSpatialSize;
  private final Set<String> sizeIndependent = new HashSet<>();

  ExportGraph(String input, long[] inputShape) {
    names.add(input);
    shapes.put(input, inputShape.clone());
  }

  /** The static shape of a value (batch dimension as in the example input). */
  public long[] shape(String value) {
    long[] s = shapes.get(value);
    if (s == null) {
      throw new IllegalStateException("export: no value named '" + value + "'");
    }
    return s.clone();
  }

  /** Marks the graph as valid for the example input's height and width only. */
  public void fixSpatialSize() {
    fixedSpatialSize = true;
  }

  /** Marks a value whose shape is the same whatever the input's height and width (a global pooling's output). */
  public void markSizeIndependent(String value) {
    sizeIndependent.add(value);
  }

  /** Whether {@link #markSizeIndependent} marked this value. */
  public boolean isSizeIndependent(String value) {
    return sizeIndependent.contains(value);
  }

  boolean fixedSpatialSize() {
    return fixedSpatialSize;
  }

  /** A value name derived from {@code base} that no value or initializer has yet. */
  private String fresh(String base) {
    String b = base.isEmpty() ? "output" : base;
    String name = b;
    for (int i = 1; names.contains(name) || initializers.containsKey(name); i++) {
      name = b + "_" + i;
    }
    names.add(name);
    return name;
  }

  /**
   * Adds a float32 initializer with exactly this name (a state-dict key); returns the name. A tensor of another
   * dtype is written as float32. The bytes are copied from the tensor's native memory in chunks of
   * {@link TensorBytes#CHUNK} ({@link TensorBytes#write}), never through a Java array of the whole tensor.
   */
  public String addInitializer(String name, Tensor t) {
    checkNew(name);
    INDArray a = t.data().dataType() == DataType.FLOAT ? t.data() : t.data().castTo(DataType.FLOAT);
    ByteBuffer raw = allocate(name, TensorBytes.byteSize(a));
    try {
      TensorBytes.write(a, new OutputStream() {
        @Override
        public void write(int b) {
          raw.put((byte) b);
        }

        @Override
        public void write(byte[] b, int off, int len) {
          raw.put(b, off, len);
        }
      });
    } catch (IOException e) {
      throw new GraftException("export: cannot copy '" + name + "': " + e.getMessage(), e);
    }
    return put(name, raw.flip(), t.shape());
  }

  /** Adds a float32 initializer with exactly this name; returns the name. */
  public String addInitializer(String name, float[] values, long... dims) {
    checkNew(name);
    return put(name, floats(name, values), dims);
  }

  private void checkNew(String name) {
    if (initializers.containsKey(name) || names.contains(name)) {
      throw new GraftException("export: two tensors are named '" + name + "'");
    }
  }

  /** Adds a float32 initializer (a constant of the export) under a fresh name derived from {@code base}. */
  public String addConstant(String base, float[] values, long... dims) {
    String name = base;
    for (int i = 1; names.contains(name) || initializers.containsKey(name); i++) {
      name = base + "_" + i;
    }
    return put(name, floats(name, values), dims);
  }

  private ByteBuffer floats(String name, float[] values) {
    ByteBuffer raw = allocate(name, 4L * values.length);
    raw.asFloatBuffer().put(values);
    return raw;
  }

  /** A direct little-endian buffer of {@code bytes}, counted against {@link #MAX_INITIALIZER_BYTES}. */
  private ByteBuffer allocate(String name, long bytes) {
    if (initializerBytes + bytes > MAX_INITIALIZER_BYTES) {
      throw new GraftException("export: the weights pass " + (MAX_INITIALIZER_BYTES >> 20) + " MiB at '" + name
          + "'; a single ONNX protobuf is limited to 2 GiB (external data is not written)");
    }
    initializerBytes += bytes;
    // off the Java heap, wrapped without a copy by put
    return ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
  }

  private String put(String name, ByteBuffer raw, long[] dims) {
    Onnx.TensorProto.Builder t = Onnx.TensorProto.newBuilder().setName(name)
        .setDataType(Onnx.TensorProto.DataType.FLOAT_VALUE).setRawData(UnsafeByteOperations.unsafeWrap(raw));
    for (long d : dims) {
      t.addDims(d);
    }
    initializers.put(name, t.build());
    shapes.put(name, dims.clone());
    return name;
  }

  /** A float32 scalar initializer named {@code name}, shared when the same name and value are asked for again. */
  public String scalar(String name, float value) {
    Onnx.TensorProto t = initializers.get(name);
    if (t != null) {
      float have = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).getFloat(0);
      if (Float.compare(have, value) == 0 && t.getDimsCount() == 0) {
        return name;
      }
    }
    return addConstant(name, new float[] {value});
  }

  /**
   * Adds a node {@code opType(inputs) -> output} whose output has {@code outShape}; returns the output's name
   * (fresh, derived from {@code name}). {@code attributes} are built with {@link #ints}, {@link #i} and {@link #f}.
   */
  public String node(String opType, String name, long[] outShape, List<String> inputs,
      Onnx.AttributeProto... attributes) {
    for (long d : outShape) {
      if (d < 1) {
        throw ShapeException.of("export " + name, "the example input is too small: " + opType + " would give",
            outShape);
      }
    }
    String out = fresh(name);
    Onnx.NodeProto.Builder n = Onnx.NodeProto.newBuilder().setOpType(opType).setName(out).addAllInput(inputs)
        .addOutput(out);
    for (Onnx.AttributeProto a : attributes) {
      n.addAttribute(a);
    }
    nodes.add(n.build());
    shapes.put(out, outShape.clone());
    return out;
  }

  /** An INTS attribute. */
  public static Onnx.AttributeProto ints(String name, long... values) {
    Onnx.AttributeProto.Builder a = Onnx.AttributeProto.newBuilder().setName(name)
        .setType(Onnx.AttributeProto.AttributeType.INTS);
    for (long v : values) {
      a.addInts(v);
    }
    return a.build();
  }

  /** An INT attribute. */
  public static Onnx.AttributeProto i(String name, long value) {
    return Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.INT).setI(value)
        .build();
  }

  /** A FLOAT attribute. */
  public static Onnx.AttributeProto f(String name, float value) {
    return Onnx.AttributeProto.newBuilder().setName(name).setType(Onnx.AttributeProto.AttributeType.FLOAT)
        .setF(value).build();
  }

  /**
   * Renames the graph's final value to {@code output} (the node that produced {@code last} now writes
   * {@code output}; an Identity node when {@code last} is no node's output, e.g. the input itself).
   */
  void renameOutput(String last, String output) {
    for (int k = nodes.size() - 1; k >= 0; k--) {
      Onnx.NodeProto n = nodes.get(k);
      if (n.getOutput(0).equals(last)) {
        nodes.set(k, n.toBuilder().setOutput(0, output).build());
        shapes.put(output, shapes.get(last));
        return;
      }
    }
    nodes.add(Onnx.NodeProto.newBuilder().setOpType("Identity").setName(output).addInput(last).addOutput(output)
        .build());
    shapes.put(output, shapes.get(last));
  }

  List<Onnx.NodeProto> nodes() {
    return nodes;
  }

  Iterable<Onnx.TensorProto> initializers() {
    return initializers.values();
  }
}
