package io.graft.layers;

import io.graft.core.GraftException;
import io.graft.core.Tensor;

/**
 * Modules applied in order; children are named {@code "0"}, {@code "1"}, ... and modules without parameters
 * (ReLU, pooling, dropout) take an index too, exactly as torch.nn.Sequential, so keys like
 * {@code features.10.weight} match torchvision's.
 */
@HoldsNoIntermediates
public class Sequential extends Module {
  private int size;

  /** A sequence of {@code modules}, named {@code "0"}, {@code "1"}, ... in order. */
  public Sequential(Module... modules) {
    for (Module m : modules) {
      add(m);
    }
  }

  /** Appends a module under the next index. */
  public final Sequential add(Module m) {
    registerModule(String.valueOf(size++), m);
    return this;
  }

  /** The number of modules appended. */
  public final int size() {
    return size;
  }

  /** The module at an index (negative counts from the end). */
  public final Module get(int index) {
    return get(String.valueOf(normalise(index)));
  }

  /** Replaces the module at an index, keeping the order; returns the old one. */
  public final Module replace(int index, Module m) {
    return replace(String.valueOf(normalise(index)), m);
  }

  /** Any child can be replaced: {@link #forward} reads them from the registry. */
  @Override
  protected void assignChild(String name, Module replacement) {}

  private int normalise(int index) {
    int i = index < 0 ? index + size : index;
    if (i < 0 || i >= size) {
      throw new GraftException("Sequential index " + index + " out of range for " + size + " modules");
    }
    return i;
  }

  @Override
  public Tensor forward(Tensor x) {
    for (Module m : namedChildren().values()) {
      x = m.call(x);
    }
    return x;
  }
}
