package io.graft.zoo.models;

import static io.graft.testing.TensorAssert.assertIdentical;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.NativeMemory;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import io.graft.layers.Module;
import org.junit.jupiter.api.Test;

/** The headline case of releasing intermediates: a frozen ResNet backbone under a trainable head. */
class ResNetReleaseTest {
  private static Module frozenBackbone(Module weightsFrom) {
    Module m = Zoo.create("resnet18", 10);
    if (weightsFrom != null) {
      m.loadStateDict(weightsFrom.stateDict(), true);
    }
    m.requiresGrad(false);
    ((Classifier) m).head().requiresGrad(true);
    m.train();
    return m;
  }

  @Test
  void aFrozenBackboneFreesItsActivationsAndTrainsTheHeadExactlyAsWithout() throws Exception {
    Module released = frozenBackbone(null);
    Module kept = frozenBackbone(released);
    Tensor x = Tensor.randn(new Rng(71), 2, 3, 64, 64);
    Tensor[] logits = new Tensor[2];
    int[] live = new int[2];
    // a forward hook on layer1 makes ResNet keep every activation of its stem and stages (the reference)
    try (AutoCloseable h = kept.namedModules().get("layer1").addForwardHook((m, in, out) -> { })) {
      for (int k = 0; k < 2; k++) {
        Module m = k == 0 ? released : kept;
        try (NativeMemory.Scope outer = NativeMemory.openScope()) {
          Tensor y = m.call(x);
          live[k] = outer.live();
          y.sum().backward();
          logits[k] = Tensor.of(y.data().dup());
        }
      }
    }
    assertTrue(live[0] < live[1], "frozen backbone kept as many arrays as the hooked one: " + live[0] + " vs "
        + live[1]);
    assertIdentical(logits[0], logits[1], "logits");
    assertIdentical(((Classifier) released).head().namedParameters().get("weight").grad(),
        ((Classifier) kept).head().namedParameters().get("weight").grad(), "fc.weight gradient");
  }
}
