package io.graft.zoo.models;

import io.graft.core.Tensor;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Module;

/**
 * torch.nn.Sequential built from an {@code OrderedDict}: children under given names ({@code encoder_layer_0}, {@code
 * head}) run in registration order. Forward reads the registry, so {@code replace} works on every child.
 */
@HoldsNoIntermediates
final class NamedSequential extends Module {
  /** Appends {@code m} under {@code name}; returns this. */
  NamedSequential add(String name, Module m) {
    registerModule(name, m);
    return this;
  }

  @Override
  protected void assignChild(String name, Module replacement) {}

  @Override
  public Tensor forward(Tensor x) {
    for (Module m : namedChildren().values()) {
      x = m.call(x);
    }
    return x;
  }
}
