package io.graft.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.layers.StateDictTest.SmallCnn;
import io.graft.layers.norm.BatchNorm2d;
import org.junit.jupiter.api.Test;

class SummaryTest {
  @Test
  void shapesCountsAndTotals() {
    SmallCnn m = new SmallCnn();
    m.freeze("conv1", "bn1", "features");
    m.train();
    m.features.get(0).eval();
    Summary s = Summary.of(m, 2, 1, 16, 16);
    long total = m.parameters().stream().mapToLong(p -> p.numel()).sum();
    long frozen = 144 + 32 + (16 * 9 * 32 + 32) + 64 + (32 * 8 * 9 + 32);
    assertEquals(total, s.totalParams());
    assertEquals(frozen, s.frozenParams());
    assertEquals(total - frozen, s.trainableParams());
    Summary.Row conv1 = s.rows().get(1);
    assertEquals("conv1", conv1.path());
    assertEquals("Conv2d", conv1.type());
    assertArrayEquals(new long[] {2, 16, 16, 16}, conv1.outputShape());
    assertEquals(144, conv1.params());
    assertEquals(0, conv1.trainable());
    Summary.Row f4 = s.rows().stream().filter(r -> r.path().equals("features.4")).findFirst().orElseThrow();
    assertArrayEquals(new long[] {2, 32, 6, 6}, f4.outputShape());
    assertArrayEquals(new long[] {2, 10}, s.rows().get(0).outputShape());
    // training flags restored per module, BatchNorm statistics untouched
    assertTrue(m.isTraining());
    assertEquals(false, m.features.get(0).isTraining());
    assertEquals(0, m.get("bn1", BatchNorm2d.class).numBatchesTracked().item());
    String table = s.toString();
    assertTrue(table.contains("features.4") && table.contains("[2, 32, 6, 6]"), table);
    assertTrue(table.contains(String.format("Frozen params:    %,d", frozen)), table);
  }

  @Test
  void modulesNotCalledShowNoShape() {
    class Unused extends Module {
      final Linear used = registerModule("used", new Linear(2, 2));
      final Linear spare = registerModule("spare", new Linear(2, 2));

      @Override
      public io.graft.core.Tensor forward(io.graft.core.Tensor x) {
        return used.call(x);
      }
    }
    Summary s = Summary.of(new Unused(), 1, 2);
    assertNull(s.rows().get(2).outputShape());
  }
}
