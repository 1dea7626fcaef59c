package io.graft.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import io.graft.layers.activation.ReLU;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.BatchNorm1d;
import io.graft.layers.norm.BatchNorm2d;
import io.graft.layers.pool.AdaptiveAvgPool2d;
import io.graft.layers.pool.MaxPool2d;
import io.graft.testing.TensorAssert;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

/** State dict keys, order, shapes and dtypes against PyTorch, and all-or-nothing loading. */
class StateDictTest {
  /** The same module tree as SmallCNN in tools/fixtures/layers.py. */
  static final class SmallCnn extends Module {
    final Conv2d conv1 = registerModule("conv1", new Conv2d(1, 16, 3,
        Conv2d.Options.defaults().withPadding(1).withBias(false)));
    final BatchNorm2d bn1 = registerModule("bn1", new BatchNorm2d(16));
    final ReLU relu = registerModule("relu", new ReLU());
    final Sequential features = registerModule("features", new Sequential(
        new Conv2d(16, 32, 3, Conv2d.Options.defaults().withPadding(1)), new BatchNorm2d(32), new ReLU(),
        new MaxPool2d(2), new Conv2d(32, 32, 3, Conv2d.Options.defaults().withGroups(4))));
    final AdaptiveAvgPool2d pool = registerModule("pool", new AdaptiveAvgPool2d(1));
    final Sequential classifier = registerModule("classifier", new Sequential(new Dropout(0.2), new Linear(32, 64),
        new BatchNorm1d(64), new ReLU(), new Linear(64, 10)));

    @Override
    public Tensor forward(Tensor x) {
      x = features.call(relu.call(bn1.call(conv1.call(x))));
      return classifier.call(pool.call(x).flatten(1, -1));
    }
  }

  static String torchDtype(DataType d) {
    return switch (d) {
      case FLOAT -> "float32";
      case DOUBLE -> "float64";
      case LONG -> "int64";
      default -> d.toString();
    };
  }

  @Test
  void keysOrderShapesAndDtypesMatchPyTorch() throws Exception {
    JsonNode golden;
    try (InputStream in = getClass().getResourceAsStream("/fixtures/layers/state_dict_keys.json")) {
      golden = new ObjectMapper().readTree(in);
    }
    StateDict sd = new SmallCnn().stateDict();
    List<String> expectedKeys = new ArrayList<>();
    for (JsonNode k : golden.get("keys")) {
      expectedKeys.add(k.get("key").asText());
    }
    assertEquals(expectedKeys, sd.keyList());
    for (JsonNode k : golden.get("keys")) {
      Tensor t = sd.get(k.get("key").asText());
      long[] shape = new long[k.get("shape").size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = k.get("shape").get(i).asLong();
      }
      assertArrayEquals(shape, t.shape(), k.get("key").asText());
      assertEquals(k.get("dtype").asText(), torchDtype(t.dtype()), k.get("key").asText());
    }
  }

  @Test
  void roundTripCopiesValues() {
    SmallCnn a = new SmallCnn();
    SmallCnn b = new SmallCnn();
    a.get("features.1", BatchNorm2d.class).runningMean().data().assign(0.25);
    b.loadStateDict(a.stateDict(), true);
    for (Map.Entry<String, Tensor> e : a.stateDict()) {
      TensorAssert.assertIdentical(b.stateDict().get(e.getKey()), e.getValue(), e.getKey());
    }
  }

  @Test
  void everyProblemIsReportedAtOnceAndNothingChanges() {
    SmallCnn m = new SmallCnn();
    StateDict good = new SmallCnn().stateDict();
    StateDict bad = new StateDict();
    for (Map.Entry<String, Tensor> e : good) {
      bad.put(e.getKey(), e.getValue());
    }
    bad.remove("bn1.running_var");
    bad.remove("classifier.4.bias");
    bad.put("fc.weight", Tensor.zeros(10, 512));
    bad.put("classifier.1.weight", Tensor.zeros(64, 33));
    bad.put("features.0.bias", Tensor.zeros(31));
    // copies, not views: stateDict() hands out the live tensors
    double[] beforeConv = m.stateDict().get("conv1.weight").toDoubleArray();
    double[] beforeValues = m.stateDict().get("classifier.4.weight").toDoubleArray();

    StateDictLoadException ex = assertThrows(StateDictLoadException.class, () -> m.loadStateDict(bad, true));
    assertEquals(List.of("bn1.running_var", "classifier.4.bias"), ex.missingKeys());
    assertEquals(List.of("fc.weight"), ex.unexpectedKeys());
    assertEquals(2, ex.mismatches().size());
    String msg = ex.getMessage();
    for (String s : new String[] {"bn1.running_var", "classifier.4.bias", "fc.weight", "classifier.1.weight",
        "[64, 33]", "[64, 32]", "features.0.bias", "[31]", "[32]"}) {
      assertTrue(msg.contains(s), "message names " + s + ": " + msg);
    }
    // nothing was half-loaded: a valid key (conv1.weight) kept its value too
    assertArrayEquals(beforeConv, m.stateDict().get("conv1.weight").toDoubleArray(), "conv1.weight unchanged");
    assertArrayEquals(beforeValues, m.stateDict().get("classifier.4.weight").toDoubleArray());
  }

  @Test
  void nonStrictReturnsMissingAndUnexpectedButShapeMismatchStillThrows() {
    SmallCnn m = new SmallCnn();
    StateDict sd = new SmallCnn().stateDict();
    sd.remove("conv1.weight");
    sd.put("extra", Tensor.zeros(1));
    LoadResult r = m.loadStateDict(sd, false);
    assertEquals(List.of("conv1.weight"), r.missingKeys());
    assertEquals(List.of("extra"), r.unexpectedKeys());
    assertFalse(r.isComplete());
    sd.put("bn1.weight", Tensor.zeros(3));
    assertThrows(StateDictLoadException.class, () -> m.loadStateDict(sd, false));
  }

  @Test
  void numBatchesTrackedMayBeAbsentAndIsInt64Scalar() {
    SmallCnn m = new SmallCnn();
    StateDict sd = new SmallCnn().stateDict();
    Tensor nbt = sd.get("bn1.num_batches_tracked");
    assertEquals(DataType.LONG, nbt.dtype());
    assertEquals(0, nbt.rank());
    StateDict old = new StateDict();
    for (Map.Entry<String, Tensor> e : sd) {
      if (!e.getKey().endsWith("num_batches_tracked")) {
        old.put(e.getKey(), e.getValue());
      }
    }
    assertTrue(m.loadStateDict(old, true).isComplete());
  }

  @Test
  void float64CheckpointIsCastToTheModelsDtype() {
    Linear l = new Linear(3, 2, true, new Rng(1));
    StateDict sd = new StateDict();
    sd.put("weight", Tensor.fromArray(new double[] {1, 2, 3, 4, 5, 6}, 2, 3));
    sd.put("bias", Tensor.fromArray(new double[] {-1, 1}, 2));
    l.loadStateDict(sd, true);
    assertEquals(DataType.FLOAT, l.weight().dtype());
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, l.weight().toFloatArray());
  }
}
