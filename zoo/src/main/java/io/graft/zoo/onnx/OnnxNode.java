package io.graft.zoo.onnx;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.zoo.onnx.proto.Onnx;
import io.graft.zoo.weights.OnnxWeights;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One node of an imported ONNX graph: operator, input and output tensor names ({@code ""} marks an omitted
 * optional input), attributes, and the opset of its domain. Attribute getters take the ONNX spec's default;
 * errors name the node.
 */
public final class OnnxNode {
  private final String opType;
  private final String name;
  private final List<String> inputs;
  private final List<String> outputs;
  private final Map<String, Onnx.AttributeProto> attributes = new LinkedHashMap<>();
  private final int opset;
  private final String source;

  OnnxNode(Onnx.NodeProto n, int index, int opset, String source) {
    this.opType = n.getOpType();
    this.name = n.getName().isEmpty() ? opType + "_" + index : n.getName();
    this.inputs = List.copyOf(n.getInputList());
    this.outputs = List.copyOf(n.getOutputList());
    for (Onnx.AttributeProto a : n.getAttributeList()) {
      attributes.put(a.getName(), a);
    }
    this.opset = opset;
    this.source = source;
  }

  /** The ONNX operator, e.g. {@code "Conv"}. */
  public String opType() {
    return opType;
  }

  /** The node's name in the file, or {@code <opType>_<index>} when the file gives none; error messages use it. */
  public String name() {
    return name;
  }

  /** The input value names in order; {@code ""} marks an omitted optional input. */
  public List<String> inputs() {
    return inputs;
  }

  /** The output value names in order. */
  public List<String> outputs() {
    return outputs;
  }

  /** The opset version of the default ONNX domain the model imports. */
  public int opset() {
    return opset;
  }

  /** Whether the node sets {@code attribute}. */
  public boolean has(String attribute) {
    return attributes.containsKey(attribute);
  }

  /** An int attribute as ONNX's int64, or {@code dflt} when absent. */
  public long i(String attribute, long dflt) {
    Onnx.AttributeProto a = attributes.get(attribute);
    return a == null ? dflt : a.getI();
  }

  /**
   * An int attribute where Graft needs a Java int (a data type, a group count): ONNX stores int64, and a value
   * outside the int range is refused naming the attribute, never truncated.
   */
  public int int32(String attribute, long dflt) {
    return checkInt(attribute, i(attribute, dflt));
  }

  /** An ints attribute whose values must fit an int (kernel sizes, strides, pads), or {@code dflt} when absent. */
  public long[] int32s(String attribute, long[] dflt) {
    long[] v = ints(attribute, dflt);
    if (v != null) {
      for (long x : v) {
        checkInt(attribute, x);
      }
    }
    return v;
  }

  private int checkInt(String attribute, long v) {
    if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
      throw error("attribute '" + attribute + "' value " + v + " is outside the int range Graft supports here ["
          + Integer.MIN_VALUE + ", " + Integer.MAX_VALUE + "]");
    }
    return (int) v;
  }

  /** A float attribute, or {@code dflt} when absent. */
  public float f(String attribute, float dflt) {
    Onnx.AttributeProto a = attributes.get(attribute);
    return a == null ? dflt : a.getF();
  }

  /** A string attribute decoded as UTF-8, or {@code dflt} when absent. */
  public String s(String attribute, String dflt) {
    Onnx.AttributeProto a = attributes.get(attribute);
    return a == null ? dflt : a.getS().toStringUtf8();
  }

  /** An ints attribute, or {@code dflt} (which may be null) when absent. */
  public long[] ints(String attribute, long[] dflt) {
    Onnx.AttributeProto a = attributes.get(attribute);
    if (a == null) {
      return dflt;
    }
    long[] v = new long[a.getIntsCount()];
    for (int k = 0; k < v.length; k++) {
      v[k] = a.getInts(k);
    }
    return v;
  }

  /** A floats attribute, or null when absent. */
  public float[] floats(String attribute) {
    Onnx.AttributeProto a = attributes.get(attribute);
    if (a == null) {
      return null;
    }
    float[] v = new float[a.getFloatsCount()];
    for (int k = 0; k < v.length; k++) {
      v[k] = a.getFloats(k);
    }
    return v;
  }

  /** A tensor attribute (Constant's {@code value}, ConstantOfShape's {@code value}), or null. */
  public Tensor tensor(String attribute) {
    Onnx.AttributeProto a = attributes.get(attribute);
    return a == null ? null : OnnxWeights.tensor(a.getT(), null, source + ": node " + name);
  }

  /** Attribute names, for error messages about unsupported ones. */
  public List<String> attributeNames() {
    return new ArrayList<>(attributes.keySet());
  }

  /** A failure of this node: names the file, node, operator and opset. */
  public GraftException error(String message) {
    return new GraftException(source + ": node '" + name + "' (" + opType + ", opset " + opset + "): " + message);
  }

  @Override
  public String toString() {
    return name + " = " + opType + inputs + " -> " + outputs;
  }
}
