package io.graft.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import io.graft.layers.StateDictTest.SmallCnn;
import io.graft.layers.norm.BatchNorm;
import io.graft.layers.norm.BatchNorm2d;
import io.graft.layers.norm.BatchNormPolicy;
import io.graft.layers.params.Params;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FreezeTest {
  static Tensor batch() {
    return Tensor.randn(new Rng(5), 4, 1, 8, 8);
  }

  @Test
  void frozenParametersGetNoGradient() {
    SmallCnn m = new SmallCnn();
    m.freeze("conv1", "bn1", "features.*");
    m.call(batch()).sum().backward();
    for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
      boolean frozen = e.getKey().startsWith("conv1") || e.getKey().startsWith("bn1")
          || e.getKey().startsWith("features");
      assertEquals(!frozen, e.getValue().requiresGrad(), e.getKey());
      if (frozen) {
        assertNull(e.getValue().grad(), e.getKey() + " is frozen");
      } else {
        assertNotNull(e.getValue().grad(), e.getKey() + " is trainable");
      }
    }
  }

  @Test
  void aFullyFrozenModelRecordsNoGraph() {
    SmallCnn m = new SmallCnn();
    m.requiresGrad(false);
    Tensor y = m.call(batch());
    assertFalse(y.requiresGrad(), "nothing to differentiate: no backward work is recorded");
    assertNull(y.gradFn());
  }

  @Test
  void patternsPrefixesAndGlobs() {
    SmallCnn m = new SmallCnn();
    assertEquals(2, Params.select(m, "bn1").size());
    assertEquals(1, Params.select(m, "conv1").size());
    assertEquals(2, Params.select(m, "features.0.*").size());
    assertEquals(6, Params.select(m, "classifier.*").size());
    assertEquals(7, Params.select(m, "*.bias").size());
    assertTrue(Params.matches("layer1.*", "layer1.0.conv1.weight"));
    assertFalse(Params.matches("conv1", "layer1.0.conv1.weight"));
    assertFalse(Params.matches("layer1", "layer10.weight"));
    GraftException e = assertThrows(GraftException.class, () -> m.freeze("fc"));
    assertTrue(e.getMessage().contains("[fc]"), e.getMessage());
    m.requiresGrad(false);
    assertTrue(m.parameters().stream().noneMatch(Parameter::requiresGrad));
    m.unfreeze("classifier.4");
    assertEquals(2, m.parameters().stream().filter(Parameter::requiresGrad).count());
    assertEquals(m.parameters().size() - 2, Params.excluding(m, "classifier.4").size());
  }

  @Test
  void frozenBatchNormKeepsStatisticsByDefault() {
    BatchNorm2d bn = new BatchNorm2d(1);
    bn.requiresGrad(false);
    assertEquals(BatchNormPolicy.FREEZE_STATS, bn.policy());
    bn.train();
    Tensor x = Tensor.randn(new Rng(3), 4, 1, 5, 5).mul(3).add(2);
    Tensor y = bn.call(x);
    assertArrayEquals(new float[] {0f}, bn.runningMean().toFloatArray());
    assertArrayEquals(new float[] {1f}, bn.runningVar().toFloatArray());
    assertEquals(0, bn.numBatchesTracked().item());
    // and normalises with the running statistics (eval behaviour): y = x / sqrt(1 + eps)
    assertEquals(x.toFloatArray()[7] / Math.sqrt(1 + 1e-5), y.toFloatArray()[7], 1e-5);
  }

  @Test
  void frozenBatchNormUpdatesStatisticsUnderTrainStatsPolicy() {
    BatchNorm2d bn = new BatchNorm2d(1);
    bn.requiresGrad(false);
    BatchNorm.setPolicy(bn, BatchNormPolicy.TRAIN_STATS);
    bn.train();
    Tensor x = Tensor.randn(new Rng(3), 4, 1, 5, 5).mul(3).add(2);
    bn.call(x);
    double mean = x.mean().item();
    assertEquals(0.1 * mean, bn.runningMean().item(), 1e-5);
    assertEquals(1, bn.numBatchesTracked().item());
    assertTrue(bn.runningVar().item() > 1.2, "running_var moved towards the batch variance (~9)");
  }

  @Test
  void trainableBatchNormUpdatesStatisticsEitherWay() {
    BatchNorm2d bn = new BatchNorm2d(1);
    bn.train();
    bn.call(Tensor.randn(new Rng(3), 4, 1, 5, 5).add(2));
    assertEquals(1, bn.numBatchesTracked().item());
    assertTrue(bn.runningMean().item() > 0.1);
  }
}
