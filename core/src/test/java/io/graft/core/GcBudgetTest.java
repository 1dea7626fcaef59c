package io.graft.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class GcBudgetTest {
  @Test
  void garbageCallsForACollectionAtTheBudget() {
    GcBudget b = new GcBudget(100);
    assertFalse(b.allocated(40));
    assertFalse(b.allocated(40));
    assertTrue(b.allocated(40));          // 120 left to the collector
    assertEquals(1, b.epoch());
    assertFalse(b.allocated(99));         // counting starts again
  }

  @Test
  void memoryFreedAtOnceNeverCallsForACollection() {
    GcBudget b = new GcBudget(100);
    for (int i = 0; i < 1000; i++) {     // a training loop that frees every temporary: 50,000 bytes pass through
      assertFalse(b.allocated(50), "allocation " + i);
      b.freed(0, 50);
    }
    assertEquals(0, b.epoch());
    assertEquals(0, b.unfreed());
    assertEquals(0, b.allowance());
  }

  @Test
  void memoryInUseAtACollectionRaisesTheAllowance() {
    GcBudget b = new GcBudget(100);
    assertTrue(b.allocated(120));         // a step's activations, in use: the collection finds nothing to free
    b.freed(0, 120);                      // backward frees them
    assertEquals(120, b.allowance());
    assertFalse(b.allocated(200));        // the next step's activations fit in budget + allowance
    b.freed(1, 200);
    assertFalse(b.allocated(90));
    assertFalse(b.allocated(90));
    assertTrue(b.allocated(50));          // 230 left unfreed: over 100 + 120
  }

  @Test
  void memoryFromOlderEpochsCountsNoMore() {
    GcBudget b = new GcBudget(100);
    assertTrue(b.allocated(100));
    assertTrue(b.allocated(100));
    b.freed(0, 100);                      // counted two requests ago: neither uncounted nor an allowance
    assertEquals(0, b.allowance());
    b.freed(1, 30);
    assertEquals(30, b.allowance());
  }

  @Test
  void aHugeBudgetDoesNotOverflowIntoCollectingAlways() {
    GcBudget b = new GcBudget(Long.MAX_VALUE);
    assertFalse(b.allocated(Long.MAX_VALUE / 4));
    assertFalse(b.allocated(1L << 40));
  }

  @Test
  void aZeroBudgetNeverCallsForACollection() {
    GcBudget b = new GcBudget(0);
    for (int i = 0; i < 10; i++) {
      assertFalse(b.allocated(1L << 40));
    }
  }
}
