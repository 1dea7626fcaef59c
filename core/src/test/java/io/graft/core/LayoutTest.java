package io.graft.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.autograd.Broadcast;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

class LayoutTest {
  private static INDArray channelsLast(INDArray c) {
    return Layout.uninitializedChannelsLast(c.dataType(), c.shape()).assign(c);
  }

  @Test
  void orderNamesTheDimensionsFromOutermostToInnermost() {
    assertArrayEquals(new int[] {0, 1, 2, 3}, Layout.order(Nd4j.rand(DataType.FLOAT, 2, 3, 4, 5)));
    INDArray cl = channelsLast(Nd4j.rand(DataType.FLOAT, 2, 3, 4, 5));
    assertArrayEquals(new int[] {0, 2, 3, 1}, Layout.order(cl));
    assertArrayEquals(new long[] {60, 1, 15, 3}, cl.stride());
    // size-1 dimensions do not hide the layout
    assertTrue(Layout.isChannelsLast(channelsLast(Nd4j.rand(DataType.FLOAT, 1, 3, 4, 5))));
    assertTrue(Layout.isChannelsLast(channelsLast(Nd4j.rand(DataType.FLOAT, 2, 3, 1, 5))));
    assertFalse(Layout.isChannelsLast(Nd4j.rand(DataType.FLOAT, 2, 3, 4, 5)));
    assertTrue(Layout.isPermuted(Nd4j.rand(DataType.FLOAT, 4, 5).transpose()));
    assertFalse(Layout.isPermuted(Nd4j.rand(DataType.FLOAT, 4, 5)));
    assertTrue(Layout.isCOrdered(Nd4j.rand(DataType.FLOAT, 2, 3, 4, 5)));
    assertFalse(Layout.isCOrdered(cl));
    INDArray gapped = Nd4j.rand(DataType.FLOAT, 4, 6).get(NDArrayIndex.all(), NDArrayIndex.interval(0, 3));
    assertFalse(Layout.isCOrdered(gapped));
    assertTrue(Layout.isCOrdered(Nd4j.scalar(1f)), "zero-dimensional");
  }

  @Test
  void arraysWithGapsOrRepeatsHaveNoOrder() {
    INDArray a = Nd4j.rand(DataType.FLOAT, 4, 6);
    assertNull(Layout.order(a.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 3))), "a column slice has gaps");
    assertArrayEquals(new int[] {0, 1}, Layout.order(a.get(NDArrayIndex.interval(1, 3), NDArrayIndex.all())),
        "a row slice is dense (at an offset)");
    INDArray row = Nd4j.rand(DataType.FLOAT, 6);
    INDArray repeated = Nd4j.create(row.data(), new long[] {4, 6}, new long[] {0, 1}, 0, 'c');
    assertNull(Layout.order(repeated), "a stride-0 view repeats elements");
    assertNull(Layout.order(Nd4j.create(DataType.FLOAT, 0, 3)), "empty");
  }

  @Test
  void flatReadsTheBlockInMemoryOrderAndWritesThrough() {
    INDArray c = Nd4j.arange(24).castTo(DataType.FLOAT).reshape(1, 2, 3, 4);
    INDArray cl = channelsLast(c);
    INDArray flat = Layout.flat(cl);
    assertEquals(24, flat.length());
    // memory order N, H, W, C: element (0, c, h, w) sits at (h * 4 + w) * 2 + c
    assertEquals(c.getFloat(0, 1, 2, 3), flat.getFloat((2 * 4 + 3) * 2 + 1));
    flat.putScalar(0, -7f);
    assertEquals(-7f, cl.getFloat(0, 0, 0, 0));
  }

  @Test
  void newArraysFollowTheReferenceLayout() {
    INDArray cl = channelsLast(Nd4j.rand(DataType.FLOAT, 2, 3, 4, 5));
    INDArray like = Layout.uninitializedLike(cl, DataType.FLOAT);
    assertTrue(Layout.sameDense(cl, like));
    assertTrue(NativeMemory.isOwned(like), "released at once by the release scopes");
    INDArray c = Layout.uninitializedLike(Nd4j.rand(DataType.FLOAT, 4, 6).get(NDArrayIndex.all(),
        NDArrayIndex.interval(0, 3)), DataType.DOUBLE);
    assertArrayEquals(new int[] {0, 1}, Layout.order(c), "a reference with gaps gives C order");
    assertEquals(DataType.DOUBLE, c.dataType());
  }

  @Test
  void elementwiseResultsKeepAShapedLayoutOnlyWhenBothInputsShareIt() {
    INDArray a = Nd4j.rand(DataType.FLOAT, 2, 3, 4, 5);
    INDArray b = Nd4j.rand(DataType.FLOAT, 2, 3, 4, 5);
    INDArray expect = a.add(b);
    INDArray both = Broadcast.apply("add", "add", channelsLast(a), channelsLast(b));
    assertTrue(Layout.isChannelsLast(both));
    assertEquals(expect, both);
    INDArray mixed = Broadcast.apply("add", "add", channelsLast(a), b);
    assertFalse(Layout.isChannelsLast(mixed));
    assertEquals(expect, mixed);
    INDArray bias = Nd4j.rand(DataType.FLOAT, 1, 3, 1, 1);
    assertEquals(a.add(bias.broadcast(2, 3, 4, 5)), Broadcast.apply("add", "add", channelsLast(a), bias));
  }
}
