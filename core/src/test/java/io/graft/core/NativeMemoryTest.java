package io.graft.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.random.Rng;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

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

  @Test
  void uninitializedAndZerosArraysWorkLikeNd4jArraysAndRelease() {
    long[] shape = {3, 5, 7, 11, 13};
    INDArray b = NativeMemory.uninitialized(DataType.FLOAT, shape);
    assertArrayEquals(shape, b.shape());
    b.assign(1);   // usable like any ND4J array: ops, views, reshapes
    INDArray sum = b.add(b.reshape(3, 5 * 7 * 11 * 13).reshape(shape));
    assertEquals(2.0 * 3 * 5 * 7 * 11 * 13, sum.sumNumber().doubleValue(), 1e-3);
    INDArray d = NativeMemory.zeros(DataType.DOUBLE, 4, 6);
    assertArrayEquals(new double[24], d.dup('c').reshape(24).toDoubleVector());
    assertEquals(DataType.LONG, NativeMemory.uninitialized(DataType.LONG, 2, 2).dataType());
    assertEquals(0, NativeMemory.uninitialized(DataType.FLOAT, 0, 3).length());
    NativeMemory.release(b);
    assertTrue(b.wasClosed());
    NativeMemory.release(d);
  }
}
