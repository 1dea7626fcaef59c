package io.graft.core;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.random.Rng;
import org.junit.jupiter.api.Test;

class NativeMemoryTest {
  @Test
  void allocationsBeyondTheBudgetRequestACollection() {
    long before = NativeMemory.collections();
    Tensor x = Tensor.randn(new Rng(1), 1024, 1024).requiresGrad(true); // 4 MiB per op output
    long bytes = 0;
    while (bytes <= 2 * NativeMemory.budgetBytes()) {
      Tensor y = x.mul(2.0).add(1.0);
      y.sum().backward();
      bytes += 3L * 4 * 1024 * 1024;
    }
    assertTrue(NativeMemory.collections() >= before + 1, "collections: " + NativeMemory.collections());
  }
}
