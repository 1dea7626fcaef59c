package io.graft.core.autograd;

import io.graft.core.Tensor;

/** One input of a recorded op together with the vector–Jacobian product that maps into it. */
public record Input(Tensor tensor, Vjp vjp) {
  /** The same as the record's constructor, for {@code record(...)} call sites. */
  public static Input of(Tensor tensor, Vjp vjp) {
    return new Input(tensor, vjp);
  }
}
