package io.graft.core.autograd;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One recorded op in the autograd graph: its name, the inputs that want a gradient, and the backward
 * function(s) that produce those gradients. After a backward pass without {@code retainGraph} the node is
 * freed: it drops its inputs and closures (and with them every saved activation), and any further backward
 * through it is an error.
 */
public final class Node {
  private final String op;
  private Tensor[] inputs;
  private Vjp[] vjps;
  private JointVjp joint;
  private boolean[] needs;
  private INDArray[] owned;
  private java.util.List<INDArray> afterBackward;

  Node(String op, Tensor[] inputs, Vjp[] vjps, JointVjp joint, boolean[] needs) {
    this.op = op;
    this.inputs = inputs;
    this.vjps = vjps;
    this.joint = joint;
    this.needs = needs;
  }

  /** Per-input form; only inputs that require grad are kept. */
  public static Node of(String op, Input[] in) {
    int n = 0;
    for (Input i : in) {
      if (i.tensor().requiresGrad()) {
        n++;
      }
    }
    Tensor[] ts = new Tensor[n];
    Vjp[] vs = new Vjp[n];
    int k = 0;
    for (Input i : in) {
      if (i.tensor().requiresGrad()) {
        ts[k] = i.tensor();
        vs[k++] = i.vjp();
      }
    }
    return new Node(op, ts, vs, null, null);
  }

  /** Joint form: all inputs kept in order, {@code needs[i]} marks those that want a gradient. */
  public static Node joint(String op, Tensor[] in, JointVjp fn) {
    boolean[] needs = new boolean[in.length];
    for (int i = 0; i < in.length; i++) {
      needs[i] = in[i] != null && in[i].requiresGrad();
    }
    return new Node(op, in.clone(), null, fn, needs);
  }

  /** The op's name (e.g. {@code "conv2d"}), as error messages name it. */
  public String op() {
    return op;
  }

  /**
   * Whether a finished backward pass has freed this node (dropped its inputs and saved activations); a further backward
   * through it throws.
   */
  public boolean isFreed() {
    return inputs == null;
  }

  /** The inputs (possibly null entries for absent optional inputs). Empty once freed. */
  public Tensor[] inputs() {
    return inputs == null ? new Tensor[0] : inputs;
  }

  /** Gradients for {@link #inputs()}, index for index; null where an input wants none. */
  INDArray[] backward(INDArray gradOutput) {
    if (inputs == null) {
      throw new GraftException("backward through op '" + op + "' whose graph was already freed by an earlier "
          + "backward(); call backward(gradient, true) the first time to retain the graph");
    }
    if (joint != null) {
      INDArray[] out = joint.apply(gradOutput, needs);
      if (out.length != inputs.length) {
        throw new IllegalStateException(op + " backward returned " + out.length + " gradients for "
            + inputs.length + " inputs");
      }
      for (int i = 0; i < out.length; i++) {
        if (!needs[i]) {
          out[i] = null;
        }
      }
      return out;
    }
    INDArray[] out = new INDArray[inputs.length];
    for (int i = 0; i < inputs.length; i++) {
      out[i] = vjps[i].apply(gradOutput);
    }
    return out;
  }

  /**
   * Hands the node arrays that only its backward uses (saved intermediates no tensor exposes); they are released
   * as soon as the graph is freed instead of waiting for the garbage collector.
   */
  public void own(INDArray... arrays) {
    owned = arrays;
  }

  /**
   * Hands the node arrays to free once a whole backward pass through its graph has finished and freed the graph:
   * the intermediate activations of a module call whose output this node computed (see {@code Module.call}). Nodes
   * upstream may still read them while backward runs, so they outlive this node's own backward step.
   */
  public void releaseAfterBackward(java.util.List<INDArray> arrays) {
    if (afterBackward == null) {
      afterBackward = new java.util.ArrayList<>(arrays);
    } else {
      afterBackward.addAll(arrays);
    }
  }

  /** The arrays handed by {@link #releaseAfterBackward} and not yet freed (read-only; for tests). */
  public java.util.List<INDArray> pendingRelease() {
    return afterBackward == null ? java.util.List.of() : java.util.Collections.unmodifiableList(afterBackward);
  }

  /** Takes the arrays handed by {@link #releaseAfterBackward} (null if none). */
  java.util.List<INDArray> takeAfterBackward() {
    java.util.List<INDArray> a = afterBackward;
    afterBackward = null;
    return a;
  }

  /** Drops inputs and closures so their arrays can be released; closes the arrays the node owns. */
  void free() {
    inputs = null;
    vjps = null;
    joint = null;
    needs = null;
    if (owned != null) {
      for (INDArray a : owned) {
        io.graft.core.NativeMemory.release(a);
      }
      owned = null;
    }
  }
}
