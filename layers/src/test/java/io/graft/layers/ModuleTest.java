package io.graft.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.ShapeException;
import io.graft.core.Tensor;
import io.graft.layers.StateDictTest.SmallCnn;
import io.graft.layers.activation.ReLU;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.BatchNorm2d;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ModuleTest {
  /** A module whose forward reads two children from fields; it takes a new {@code fc}, not a new {@code fixed}. */
  static final class Head extends Module {
    Module fc = registerModule("fc", new Linear(4, 3));
    final Linear fixed = registerModule("fixed", new Linear(3, 3));

    @Override
    public Tensor forward(Tensor x) {
      return fixed.call(fc.call(x));
    }

    @Override
    protected void assignChild(String name, Module replacement) {
      if (!name.equals("fc")) {
        super.assignChild(name, replacement);
      }
      if (!(replacement instanceof Linear l) || l.inFeatures() != 4) {
        throw new GraftException("fc must be a Linear with 4 input features, got " + replacement);
      }
      fc = replacement;
    }
  }

  /** A module with a persistent and a non-persistent buffer, like torch's register_buffer(persistent=False). */
  static final class WithBuffers extends Module {
    final Tensor kept = registerBuffer("kept", Tensor.ones(2));
    final Tensor scratch = registerBuffer("scratch", Tensor.zeros(3), false);

    @Override
    public Tensor forward(Tensor x) {
      return x;
    }
  }

  @Test
  void nonPersistentBuffersAreListedButNotSaved() {
    WithBuffers m = new WithBuffers();
    assertEquals(List.of("kept", "scratch"), new ArrayList<>(m.namedBuffers().keySet()));
    assertEquals(List.of("kept"), m.stateDict().keyList(), "state_dict holds persistent buffers only");
    io.graft.core.StateDict sd = new io.graft.core.StateDict();
    sd.put("kept", Tensor.full(5.0, 2));
    m.loadStateDict(sd, true); // strict loading does not ask for the non-persistent one
    assertArrayEquals(new float[] {5, 5}, m.kept.toFloatArray());
    io.graft.core.StateDict extra = new io.graft.core.StateDict();
    extra.put("kept", Tensor.ones(2));
    extra.put("scratch", Tensor.ones(3));
    StateDictLoadException e = assertThrows(StateDictLoadException.class, () -> m.loadStateDict(extra, true));
    assertEquals(List.of("scratch"), e.unexpectedKeys());
  }

  @Test
  void namedTraversalFollowsRegistrationOrder() {
    SmallCnn m = new SmallCnn();
    assertEquals(List.of("", "conv1", "bn1", "relu", "features", "features.0", "features.1", "features.2",
        "features.3", "features.4", "pool", "classifier", "classifier.0", "classifier.1", "classifier.2",
        "classifier.3", "classifier.4"), new ArrayList<>(m.namedModules().keySet()));
    assertEquals(List.of("conv1.weight", "bn1.weight", "bn1.bias", "features.0.weight", "features.0.bias",
        "features.1.weight", "features.1.bias", "features.4.weight", "features.4.bias", "classifier.1.weight",
        "classifier.1.bias", "classifier.2.weight", "classifier.2.bias", "classifier.4.weight", "classifier.4.bias"),
        new ArrayList<>(m.namedParameters().keySet()));
    assertEquals(List.of("bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"),
        new ArrayList<>(m.namedBuffers().keySet()).subList(0, 3));
    assertEquals(m.namedParameters().size(), m.parameters().size());
  }

  @Test
  void getAndSetByPath() {
    SmallCnn m = new SmallCnn();
    assertSame(m.features, m.get("features"));
    assertTrue(m.get("features.1") instanceof BatchNorm2d);
    assertSame(m.classifier.get(-1), m.get("classifier.4"));
    GraftException e = assertThrows(GraftException.class, () -> m.get("features.9"));
    assertTrue(e.getMessage().contains("'features'") && e.getMessage().contains("'9'"), e.getMessage());
    assertThrows(GraftException.class, () -> m.get("features.1", Conv2d.class));

    Linear head = new Linear(64, 5);
    Module old = m.replace("classifier.4", head);
    assertTrue(old instanceof Linear);
    assertSame(head, m.classifier.get(4));
    assertEquals(List.of(2L, 5L), List.of(m.eval().call(Tensor.zeros(2, 1, 8, 8)).shape()[0],
        m.call(Tensor.zeros(2, 1, 8, 8)).shape()[1]));
    assertTrue(m.stateDict().keys().contains("classifier.4.weight"));
  }

  @Test
  void replaceGoesThroughTheParentAndChangesNothingWhenItRefuses() {
    Head h = new Head();
    Linear fc = new Linear(4, 3);
    h.replace("fc", fc);
    assertSame(fc, h.fc);
    assertSame(fc, h.get("fc"));
    GraftException e = assertThrows(GraftException.class, () -> h.replace("fixed", new Linear(3, 3)));
    assertTrue(e.getMessage().contains("Head") && e.getMessage().contains("'fixed'"), e.getMessage());
    assertTrue(h.get("fixed") == h.fixed, "nothing changed after a refused replace");
    assertThrows(GraftException.class, () -> h.replace("fc", new ReLU()), "the parent refuses a ReLU as fc");
    assertSame(fc, h.get("fc"));
    assertSame(fc, h.fc);
    assertThrows(GraftException.class, () -> h.replace("nope", new ReLU()));
    assertThrows(GraftException.class, () -> h.replace("fc", null));
  }

  @Test
  void sequentialIndicesAndReplacement() {
    Sequential s = new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 1));
    assertEquals(3, s.size());
    assertEquals(List.of("0.weight", "0.bias", "2.weight", "2.bias"), new ArrayList<>(s.namedParameters().keySet()));
    s.replace(2, new Linear(3, 4));
    assertArrayEquals(new long[] {5, 4}, s.call(Tensor.zeros(5, 2)).shape());
    assertThrows(GraftException.class, () -> s.get(3));
  }

  @Test
  void trainEvalAndApplyAreRecursive() {
    SmallCnn m = new SmallCnn();
    m.eval();
    m.apply(x -> assertFalse(x.isTraining(), x.typeName()));
    m.train();
    m.apply(x -> assertTrue(x.isTraining(), x.typeName()));
    List<String> order = new ArrayList<>();
    new Sequential(new ReLU(), new Sequential(new Linear(1, 1))).apply(x -> order.add(x.typeName()));
    assertEquals(List.of("ReLU", "Linear", "Sequential", "Sequential"), order);
  }

  @Test
  void badInputShapesAreShapeExceptions() {
    assertThrows(ShapeException.class, () -> new Conv2d(3, 8, 3).call(Tensor.zeros(2, 4, 8, 8)));
    assertThrows(ShapeException.class, () -> new Conv2d(3, 8, 3).call(Tensor.zeros(3, 8, 8)));
    assertThrows(ShapeException.class, () -> new BatchNorm2d(3).call(Tensor.zeros(2, 4, 5, 5)));
    assertThrows(ShapeException.class, () -> new Linear(3, 2).call(Tensor.zeros(2, 4)));
  }

  @Test
  void toStringLooksLikePyTorch() {
    String s = new Sequential(new Linear(512, 10)).toString();
    assertEquals("Sequential(\n  (0): Linear(in_features=512, out_features=10, bias=true)\n)", s);
  }
}
