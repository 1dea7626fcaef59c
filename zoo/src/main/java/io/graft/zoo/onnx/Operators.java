package io.graft.zoo.onnx;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import java.util.Map;
import java.util.TreeMap;
import org.nd4j.linalg.api.buffer.DataType;

/** The ONNX operators Graft imports, by op_type; their implementations live in the *Operators classes. */
public final class Operators {
  private Operators() {}

  /** The newest default-domain opset whose semantics the operators follow. */
  public static final int MAX_OPSET = 17;

  /**
   * The highest opset version Graft accepts in any domain's import: the newest opset ONNX defines (23, ONNX
   * 1.18); a larger or negative version is a corrupt file, refused naming the domain and value.
   */
  public static final long MAX_DEFINED_OPSET = 23;

  private static final Map<String, OnnxOp> OPS = new TreeMap<>();

  static {
    MathOperators.register(OPS);
    NnOperators.register(OPS);
    TensorOperators.register(OPS);
    TransformerOperators.register(OPS);
    IndexOperators.register(OPS);
  }

  /** Whether Graft can run the ONNX operator {@code opType} (of the default domain). */
  public static boolean supports(String opType) {
    return OPS.containsKey(opType);
  }

  /** Supported operator names, sorted. */
  public static java.util.Set<String> names() {
    return java.util.Collections.unmodifiableSet(OPS.keySet());
  }

  static OnnxOp get(String opType) {
    OnnxOp op = OPS.get(opType);
    if (op == null) {
      throw new GraftException("unsupported ONNX operator " + opType);
    }
    return op;
  }

  // ---------------------------------------------------------------- helpers shared by the operators

  static Tensor[] one(Tensor t) {
    return new Tensor[] {t};
  }

  /** The {@code k}-th input, which the operator requires. */
  static Tensor in(OnnxNode n, Tensor[] in, int k) {
    if (k >= in.length || in[k] == null) {
      throw n.error("required input " + k + " is missing");
    }
    return in[k];
  }

  /** The {@code k}-th input if given, else null. */
  static Tensor opt(Tensor[] in, int k) {
    return k < in.length ? in[k] : null;
  }

  static double scalar(OnnxNode n, Tensor t, String what) {
    if (t.numel() != 1) {
      throw n.error(what + " must hold one value, got shape " + io.graft.core.Shapes.str(t.shape()));
    }
    return t.data().getDouble(0);
  }

  /** An axis in [-rank, rank) made non-negative (a rank-0 tensor has none). */
  static int axis(OnnxNode n, long axis, int rank) {
    if (axis < -rank || axis >= rank) {
      throw n.error("axis " + axis + " is out of range for rank " + rank);
    }
    return (int) (axis < 0 ? axis + rank : axis);
  }

  static int[] axes(OnnxNode n, long[] axes, int rank) {
    int[] r = new int[axes.length];
    for (int k = 0; k < r.length; k++) {
      r[k] = axis(n, axes[k], rank);
    }
    return r;
  }

  /** Integer values of a 1-D (or scalar) int tensor input such as a shape or axes. */
  static long[] ints(OnnxNode n, Tensor t, String what) {
    if (t.dtype().isFPType()) {
      throw n.error(what + " must be an integer tensor, got " + t.dtype());
    }
    if (t.rank() > 1) {
      throw n.error(what + " must be 1-D, got shape " + io.graft.core.Shapes.str(t.shape()));
    }
    return Ints.values(t);
  }

  static int[] toInts(long[] v) {
    int[] r = new int[v.length];
    for (int k = 0; k < v.length; k++) {
      r[k] = Math.toIntExact(v[k]);
    }
    return r;
  }

  /** The ND4J type of an ONNX TensorProto.DataType number. */
  static DataType dtype(OnnxNode n, int onnxType) {
    DataType t = dtypeOrNull(onnxType);
    if (t == null) {
      throw n.error("unsupported ONNX data type " + onnxType);
    }
    return t;
  }

  /** As Graft reads tensors of that type (unsigned types widen, half types read as float32), or null. */
  static DataType tensorType(int onnxType) {
    return switch (onnxType) {
      case 4 -> DataType.INT;
      case 12, 13 -> DataType.LONG;
      case 10, 16 -> DataType.FLOAT;
      default -> dtypeOrNull(onnxType);
    };
  }

  private static DataType dtypeOrNull(int onnxType) {
    return switch (onnxType) {
      case 1 -> DataType.FLOAT;
      case 2 -> DataType.UBYTE;
      case 3 -> DataType.BYTE;
      case 5 -> DataType.SHORT;
      case 6 -> DataType.INT;
      case 7 -> DataType.LONG;
      case 9 -> DataType.BOOL;
      case 10 -> DataType.HALF;
      case 11 -> DataType.DOUBLE;
      case 16 -> DataType.BFLOAT16;
      default -> null;
    };
  }
}
