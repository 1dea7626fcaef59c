package io.graft.core.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.junit.jupiter.api.Test;

class LayoutsTest {
  @Test
  void channelsLastIsThePermutedCopyAndChannelsFirstUndoesIt() {
    for (DataType dtype : new DataType[] {DataType.FLOAT, DataType.DOUBLE}) {
      INDArray x = Tensor.randn(new Rng(3), 3, 5, 7, 37).data().castTo(dtype);   // blocks of 32 plus a ragged rest
      INDArray last = Layouts.toChannelsLast(x);
      assertArrayEquals(new long[] {3, 7, 37, 5}, last.shape());
      assertEquals(x.permute(0, 2, 3, 1).dup('c'), last, dtype.toString());
      assertEquals(x, Layouts.toChannelsFirst(last), dtype.toString());
    }
  }

  @Test
  void readsAViewFromItsOffset() {
    INDArray big = Tensor.randn(new Rng(4), 4, 3, 6, 6).data();
    INDArray view = big.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(2, 4));   // images 2 and 3: offset > 0
    assertEquals(view.dup('c').permute(0, 2, 3, 1).dup('c'), Layouts.toChannelsLast(view));
  }

  @Test
  void onlyContiguousFloatingArraysOfRankFour() {
    INDArray x = Tensor.randn(new Rng(5), 2, 3, 4, 4).data();
    assertFalse(Layouts.supported(x.permute(0, 1, 3, 2)));
    assertFalse(Layouts.supported(x.castTo(DataType.HALF)));
    assertFalse(Layouts.supported(x.reshape(2, 3, 16)));
  }
}
