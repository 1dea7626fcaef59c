package io.graft.zoo.models;

import static io.graft.testing.TensorAssert.assertIdentical;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.NativeMemory;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import io.graft.layers.Dropout;
import io.graft.layers.Module;
import io.graft.layers.StochasticDepth;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A frozen EfficientNet, MobileNetV3 or RegNetY backbone under a trainable head frees its activations as they are
 * consumed (every block, SqueezeExcitation and activation is {@code @HoldsNoIntermediates}) and trains the head
 * exactly as a backbone that keeps them.
 */
class ConvBackbonesReleaseTest {
  private static Module frozenBackbone(String name, Module weightsFrom) {
    Module m = Zoo.create(name, 10);
    if (weightsFrom != null) {
      m.loadStateDict(weightsFrom.stateDict(), true);
    }
    m.requiresGrad(false);
    ((Classifier) m).head().requiresGrad(true);
    m.train();
    // dropout and stochastic depth off, so that the two runs draw no different masks
    m.namedModules().values().stream().filter(c -> c instanceof Dropout || c instanceof StochasticDepth)
        .forEach(Module::eval);
    return m;
  }

  @ParameterizedTest
  @ValueSource(strings = {"efficientnet_b0", "mobilenet_v3_small", "regnet_y_400mf"})
  void aFrozenBackboneFreesItsActivationsAndTrainsTheHeadExactlyAsWithout(String name) throws Exception {
    Module released = frozenBackbone(name, null);
    Module kept = frozenBackbone(name, released);
    Tensor x = Tensor.randn(new Rng(71), 2, 3, 64, 64);
    Tensor[] logits = new Tensor[2];
    int[] live = new int[2];
    // a forward hook on the first stage makes the backbone keep every activation (the reference)
    String first = name.startsWith("regnet") ? "stem" : "features.0";
    try (AutoCloseable h = kept.namedModules().get(first).addForwardHook((m, in, out) -> { })) {
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
    assertTrue(live[0] < live[1], name + ": frozen backbone kept as many arrays as the hooked one: " + live[0]
        + " vs " + live[1]);
    assertIdentical(logits[0], logits[1], name + " logits");
    assertIdentical(((Classifier) released).head().namedParameters().get("weight").grad(),
        ((Classifier) kept).head().namedParameters().get("weight").grad(), name + " head weight gradient");
  }
}
