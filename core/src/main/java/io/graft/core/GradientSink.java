package io.graft.core;

import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Where a kernel may write a leaf's gradient directly: the buffer the leaf kept from an earlier backward pass (see
 * {@link Tensor#clearGrad()}), offered by {@code Autograd.backward} for the duration of one node's backward, keyed by
 * the leaf's data array (the array the kernel receives as its weight or bias). A kernel that computes such a
 * gradient {@link #take}s the buffer instead of allocating one, so that a training step's parameter gradients land
 * in the same memory every step: no fresh pages, no copy. A kernel that does not ask leaves the offer unused, and the
 * gradient is copied into the buffer afterwards.
 *
 * <p>Offers are per thread and last one node's backward: {@link #open} returns the scope, closed right after it.
 */
public final class GradientSink {
  private static final ThreadLocal<Map<INDArray, INDArray>> OFFERS = new ThreadLocal<>();

  private GradientSink() {}

  /** Opens this thread's offers for one node's backward (empty); close it when the node is done. */
  public static Offers open() {
    Map<INDArray, INDArray> m = new IdentityHashMap<>(4);
    OFFERS.set(m);
    return new Offers(m);
  }

  /**
   * The buffer offered for the gradient of the leaf whose data is {@code of}, or null when none is offered or it
   * does not have {@code shape} and {@code of}'s dtype. A buffer is handed out once; the caller writes every element.
   */
  public static INDArray take(INDArray of, long[] shape) {
    Map<INDArray, INDArray> m = OFFERS.get();
    if (m == null || of == null || m.isEmpty()) {
      return null;
    }
    INDArray b = m.get(of);
    if (b == null || b.dataType() != of.dataType() || !Arrays.equals(b.shape(), shape)) {
      return null;
    }
    m.remove(of);
    return b;
  }

  /** The offers of one node's backward; see {@link #open}. */
  public static final class Offers implements AutoCloseable {
    private final Map<INDArray, INDArray> map;

    private Offers(Map<INDArray, INDArray> map) {
      this.map = map;
    }

    /** Offers {@code buffer} (dense, C order, Graft's own) for the gradient of the leaf whose data is {@code of}. */
    public void offer(INDArray of, INDArray buffer) {
      map.put(of, buffer);
    }

    /** Withdraws what was not taken. */
    @Override
    public void close() {
      map.clear();
      OFFERS.remove();
    }
  }
}
