package io.graft.core.autograd;

import io.graft.core.GradientSink;
import io.graft.core.GraftException;
import io.graft.core.Layout;
import io.graft.core.NativeMemory;
import io.graft.core.ShapeException;
import io.graft.core.Tensor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Reverse-mode differentiation: an iterative topological sort from the root (so a 10,000-op chain cannot
 * overflow the stack), then one walk in reverse order that calls each node's backward and sums the
 * gradients that reach a tensor from several uses. Only leaves that require grad keep {@code .grad};
 * intermediate gradients are dropped as soon as they have been propagated.
 */
public final class Autograd {
  private Autograd() {}

  /** Records {@code out} as the result of op {@code name} if grad mode is on and some input requires grad. */
  public static Tensor record(String name, INDArray out, Input... inputs) {
    NativeMemory.allocated(out);
    Tensor t = Tensor.of(out);
    if (GradMode.isEnabled()) {
      for (Input i : inputs) {
        if (i.tensor().requiresGrad()) {
          t.setGradFn(Node.of(name, inputs));
          break;
        }
      }
    }
    return t;
  }

  /** Joint form of {@link #record}: one backward function yields every input's gradient. */
  public static Tensor recordJoint(String name, INDArray out, Tensor[] inputs, JointVjp fn) {
    NativeMemory.allocated(out);
    Tensor t = Tensor.of(out);
    if (willRecord(inputs)) {
      t.setGradFn(Node.joint(name, inputs, fn));
    }
    return t;
  }

  /** Whether an op on these inputs (null entries allowed) records a graph node: grad mode on, some input wants grad. */
  public static boolean willRecord(Tensor... inputs) {
    if (!GradMode.isEnabled()) {
      return false;
    }
    for (Tensor i : inputs) {
      if (i != null && i.requiresGrad()) {
        return true;
      }
    }
    return false;
  }

  /**
   * Backpropagates {@code seed} (the gradient of some scalar with respect to {@code root}) into every leaf
   * that requires grad. Unless {@code retainGraph}, the graph is freed afterwards.
   */
  public static void backward(Tensor root, INDArray seed, boolean retainGraph) {
    if (!root.requiresGrad()) {
      throw new GraftException("backward(): the tensor does not require grad and has no graph "
          + "(was it computed under GradMode.disabled(), or from inputs that all have requiresGrad=false?)");
    }
    if (!Arrays.equals(seed.shape(), root.shape())) {
      throw ShapeException.of("backward", "gradient shape must equal the tensor's shape", seed.shape(), root.shape());
    }
    List<Tensor> order = topologicalOrder(root);
    List<INDArray> afterwards = new ArrayList<>();
    // leaves' gradient buffers offered to kernels: never freed as spent gradients (they are the leaves' own)
    Map<INDArray, Boolean> buffers = new IdentityHashMap<>();
    Map<Tensor, INDArray> grads = new IdentityHashMap<>();
    grads.put(root, seed);
    for (int k = order.size() - 1; k >= 0; k--) {
      Tensor t = order.get(k);
      INDArray g = grads.remove(t);
      if (g == null) {
        continue;
      }
      Node node = t.gradFn();
      if (node == null) {
        if (t.requiresGrad() && t.gradData() == null && (g == t.gradBuffer()
            || (t.gradBuffer() == null && adoptable(g, seed, grads)))) {
          // the kernel wrote into the leaf's buffer, or a first gradient nothing else holds becomes the leaf's own
          t.adoptGrad(g);
          continue;
        }
        t.accumulateGrad(g);   // into the leaf's buffer (or a new one): g itself is spent
        if (!buffers.containsKey(g)) {
          releaseSpent(g, seed, grads, null);
        }
        continue;
      }
      Tensor[] inputs = node.inputs();
      INDArray[] gs;
      try (GradientSink.Offers offers = GradientSink.open()) {
        for (Tensor in : inputs) {
          INDArray b = in == null || !in.isLeaf() ? null : in.gradBuffer();
          if (b != null) {   // the kernel may write this leaf's gradient straight into the buffer it kept
            offers.offer(in.data(), b);
            buffers.put(b, Boolean.TRUE);
          }
        }
        gs = node.backward(g);
      }
      for (int i = 0; i < inputs.length; i++) {
        Tensor in = inputs[i];
        INDArray gi = gs[i];
        if (in == null || gi == null || !in.requiresGrad()) {
          continue;
        }
        NativeMemory.allocated(gi);
        if (!Arrays.equals(gi.shape(), in.shape())) {
          throw new IllegalStateException("backward of op '" + node.op() + "' produced a gradient of shape "
              + Arrays.toString(gi.shape()) + " for an input of shape " + Arrays.toString(in.shape()));
        }
        INDArray prev = grads.get(in);
        if (prev == null || gi.length() == 0) {
          grads.put(in, prev == null ? gi : prev);
        } else {
          // a fresh sum: gradients may alias each other (add passes g on to both inputs), so never in place
          grads.put(in, Broadcast.apply("backward", "add", prev, gi));
          INDArray[] unprocessed = Arrays.copyOfRange(gs, i + 1, gs.length);
          if (!buffers.containsKey(prev)) {
            releaseSpent(prev, seed, grads, unprocessed);
          }
          if (!buffers.containsKey(gi)) {
            releaseSpent(gi, seed, grads, unprocessed);
          }
        }
      }
      releaseSpent(g, seed, grads, null);
      if (!retainGraph) {
        List<INDArray> later = node.takeAfterBackward();
        if (later != null) {
          afterwards.addAll(later);
        }
        node.free();
      }
    }
    // the graph is freed: module calls' intermediate activations (handed to their output nodes) go now
    for (INDArray a : afterwards) {
      if (!overlaps(a, seed)) {
        NativeMemory.release(a);
      }
    }
  }

  /**
   * Frees a propagated gradient's memory at once unless it is the caller's seed or shares memory with a gradient
   * still pending (views and aliases: {@code add} hands {@code g} itself to both inputs, {@code reshape} a view of
   * it). Backward otherwise leaves every intermediate gradient — as large as the activations — to the garbage
   * collector; freed at once, the next one reuses the same pages. Only arrays Graft's ops allocated are freed
   * ({@link NativeMemory#release}); gradients never alias forward activations.
   */
  private static void releaseSpent(INDArray a, INDArray seed, Map<Tensor, INDArray> pending, INDArray[] live) {
    if (spent(a, seed, pending, live)) {
      NativeMemory.release(a);
    }
  }

  /** Whether nothing but the caller holds {@code a}: Graft allocated it, and no pending gradient shares its memory. */
  private static boolean spent(INDArray a, INDArray seed, Map<Tensor, INDArray> pending, INDArray[] live) {
    if (a == null || !NativeMemory.isOwned(a) || overlaps(a, seed)) {
      return false;
    }
    for (INDArray p : pending.values()) {
      if (overlaps(a, p)) {
        return false;
      }
    }
    if (live != null) {
      for (INDArray l : live) {
        if (overlaps(a, l)) {
          return false;
        }
      }
    }
    return true;
  }

  /**
   * Whether a leaf may keep {@code g} as its gradient instead of a copy (saving a copy of every parameter's
   * gradient per step): spent (above), C-ordered over its whole buffer, and allocated outside any release scope
   * (whose end would free it under the leaf).
   */
  private static boolean adoptable(INDArray g, INDArray seed, Map<Tensor, INDArray> pending) {
    return !NativeMemory.inScope() && spent(g, seed, pending, null) && g.offset() == 0
        && g.data().length() == g.length() && Layout.isCOrdered(g);
  }

  /** Whether two arrays' buffers may share memory (conservative: whole buffers, offsets included). */
  private static boolean overlaps(INDArray a, INDArray b) {
    if (a == null || b == null || b.wasClosed()) {
      return false;
    }
    if (a == b) {
      return true;
    }
    long[] ra = NativeMemory.addressRange(a);
    long[] rb = NativeMemory.addressRange(b);
    return ra[0] < rb[1] && rb[0] < ra[1];
  }

  /** Post-order (inputs before the tensors computed from them) over tensors that require grad. */
  static List<Tensor> topologicalOrder(Tensor root) {
    List<Tensor> order = new ArrayList<>();
    Map<Tensor, Boolean> seen = new IdentityHashMap<>();
    ArrayDeque<Tensor> stack = new ArrayDeque<>();
    ArrayDeque<Integer> next = new ArrayDeque<>();
    stack.push(root);
    next.push(0);
    seen.put(root, Boolean.TRUE);
    while (!stack.isEmpty()) {
      Tensor t = stack.peek();
      int i = next.pop();
      Node node = t.gradFn();
      if (node != null && node.isFreed()) {
        node.backward(null); // throws the "already freed" error before any gradient is touched
      }
      Tensor[] inputs = node == null ? new Tensor[0] : node.inputs();
      while (i < inputs.length && (inputs[i] == null || !inputs[i].requiresGrad() || seen.containsKey(inputs[i]))) {
        i++;
      }
      if (i < inputs.length) {
        next.push(i + 1);
        Tensor child = inputs[i];
        seen.put(child, Boolean.TRUE);
        stack.push(child);
        next.push(0);
      } else {
        stack.pop();
        order.add(t);
      }
    }
    return order;
  }
}
