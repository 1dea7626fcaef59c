package io.graft.layers;

import static io.graft.testing.TensorAssert.assertIdentical;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.NativeMemory;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.random.Rng;
import io.graft.layers.activation.ReLU;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.BatchNorm2d;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Module calls free their intermediate activations themselves (see {@link Module#call}). */
class ReleaseIntermediatesTest {
  private static final Sequential PROTOTYPE = build();

  private static Sequential build() {
    return new Sequential(new Conv2d(3, 8, 3), new BatchNorm2d(8), new ReLU(), new Conv2d(8, 4, 3), new ReLU());
  }

  /** The same weights every time. */
  private static Sequential net() {
    Sequential m = build();
    m.loadStateDict(PROTOTYPE.stateDict(), true);
    return m;
  }

  private static Tensor input() {
    return Tensor.randn(new Rng(5), 2, 3, 12, 12);
  }

  @Test
  void aFrozenCallFreesItsIntermediatesAsItReturnsAndKeepsItsOutput() {
    Sequential m = net();
    m.requiresGrad(false);
    Tensor expected;
    List<Tensor> seen = new ArrayList<>();
    Sequential hooked = net();
    hooked.requiresGrad(false);
    try (AutoCloseable h = ((Module) hooked.namedModules().get("2")).addForwardHook((mod, in, out) -> seen.add(out))) {
      // a hook below keeps an intermediate: nothing is freed, and what the hook holds stays readable
      try (NativeMemory.Scope outer = NativeMemory.openScope()) {
        expected = Tensor.of(hooked.call(input()).data().dup());
        assertTrue(outer.live() > 1, "a hooked call freed its intermediates: " + outer.live());
        assertFalse(seen.get(0).data().wasClosed(), "hooked intermediate freed");
        assertTrue(Double.isFinite(seen.get(0).data().sumNumber().doubleValue()));
      }
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    try (NativeMemory.Scope outer = NativeMemory.openScope()) {
      Tensor y = m.call(input());
      assertEquals(1, outer.live(), "only the output should survive the call");
      assertIdentical(y, expected, "output of the releasing call");
    }
  }

  @Test
  void aTrainingCallFreesItsIntermediatesOnceBackwardHasFinished() {
    Sequential m = net();
    Sequential reference = net();
    List<Tensor> seen = new ArrayList<>();
    AutoCloseable h = ((Module) reference.namedModules().get("1")).addForwardHook((mod, in, out) -> seen.add(out));
    Tensor y = m.call(input());
    List<INDArray> pending = new ArrayList<>(y.gradFn().pendingRelease());
    assertFalse(pending.isEmpty(), "no intermediates handed to the graph");
    for (INDArray a : pending) {
      assertFalse(a.wasClosed(), "an intermediate was freed before backward");
    }
    y.sum().backward();
    for (INDArray a : pending) {
      assertTrue(a.wasClosed(), "an intermediate outlived backward");
    }
    Tensor yr = reference.call(input());
    assertTrue(yr.gradFn().pendingRelease().isEmpty(), "a hooked model handed intermediates over");
    yr.sum().backward();
    assertIdentical(y, yr, "output");
    for (String name : m.namedParameters().keySet()) {
      assertIdentical(m.namedParameters().get(name).grad(), reference.namedParameters().get(name).grad(),
          "gradient of " + name);
    }
  }

  /** A module from outside Graft's jars: it may keep what it computes. */
  static final class Stash extends Module {
    Tensor last;

    @Override
    public Tensor forward(Tensor x) {
      last = x.relu();
      return last.mul(2.0);
    }
  }

  @Test
  void aModuleFromOutsideGraftKeepsEverythingItsParentComputes() {
    Stash stash = new Stash();
    Sequential m = new Sequential(new Conv2d(3, 4, 3), stash, new ReLU());
    m.requiresGrad(false);
    try (NativeMemory.Scope outer = NativeMemory.openScope()) {
      m.call(input());
      assertFalse(stash.last.data().wasClosed(), "the outside module's stash was freed");
      assertTrue(Double.isFinite(stash.last.data().sumNumber().doubleValue()));
    }
  }

  /** A subclass of one of Graft's layers has its own forward: it is trusted only if it says so itself. */
  static final class StashingSequential extends Sequential {
    Tensor last;

    StashingSequential(Module... modules) {
      super(modules);
    }

    @Override
    public Tensor forward(Tensor x) {
      last = super.forward(x);
      return last.relu();
    }
  }

  @Test
  void aSubclassOfAGraftLayerDoesNotInheritItsTrust() {
    StashingSequential m = new StashingSequential(new Conv2d(3, 4, 3), new ReLU());
    m.requiresGrad(false);
    try (NativeMemory.Scope outer = NativeMemory.openScope()) {
      m.call(input());
      assertFalse(m.last.data().wasClosed(), "the subclass's stash was freed");
      assertTrue(Double.isFinite(m.last.data().sumNumber().doubleValue()));
    }
  }

  @Test
  void gradientsDisabledFreeEvenWithTrainableParameters() {
    Sequential m = net();
    m.eval();
    try (GradMode.Scope g = GradMode.disabled(); NativeMemory.Scope outer = NativeMemory.openScope()) {
      m.call(input());
      assertEquals(1, outer.live());
    }
  }

  @Test
  void aFailingCallLeavesItsArraysToTheCollectorAndTheNextCallWorks() {
    Sequential m = new Sequential(new Conv2d(3, 4, 3), new Conv2d(5, 4, 3));
    m.requiresGrad(false);
    assertThrows(GraftException.class, () -> m.call(input()));
    Sequential ok = net();
    ok.requiresGrad(false);
    try (NativeMemory.Scope outer = NativeMemory.openScope()) {
      ok.call(input());
      assertEquals(1, outer.live());
    }
  }

  @Test
  void aModuleReturningItsInputOrAViewOfAnIntermediateKeepsWhatItReturns() {
    // Identity returns its input; Flatten returns a view of the (C-ordered) ReLU output: both must survive the call
    Sequential m = new Sequential(new Linear(12, 4), new ReLU(), new Identity(), new Flatten());
    m.requiresGrad(false);
    Tensor y;
    try (NativeMemory.Scope outer = NativeMemory.openScope()) {
      y = m.call(Tensor.randn(new Rng(6), 2, 3, 12));
      assertEquals(1, outer.live());
      assertFalse(y.data().wasClosed());
      double sum = y.data().sumNumber().doubleValue();
      assertTrue(Double.isFinite(sum));
      assertIdentical(y, Tensor.of(y.data().dup()), "readable output");
    }
  }

  @Test
  void aChannelsLastIntermediateFlattenedIsCopiedAndFreed() {
    // a convolution's output is stored channels_last: flattening it copies, so the intermediate itself can go
    Sequential m = new Sequential(new Conv2d(3, 4, 3), new ReLU(), new Identity(), new Flatten());
    m.requiresGrad(false);
    Tensor y;
    try (NativeMemory.Scope outer = NativeMemory.openScope()) {
      y = m.call(input());
      assertEquals(0, outer.live());
      assertFalse(y.data().wasClosed());
      double sum = y.data().sumNumber().doubleValue();
      assertTrue(Double.isFinite(sum));
      assertIdentical(y, Tensor.of(y.data().dup()), "readable output");
    }
  }
}
