package io.graft.core.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Layout;
import io.graft.core.Tensor;
import io.graft.core.ops.ConvOps;
import io.graft.core.ops.NormOps;
import io.graft.core.random.Rng;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** The one fallback rule: the first backend whose {@code supports...} answer is yes runs the call. */
class BackendsTest {
  private static final int[] ONE = {1, 1};

  @Test
  void libnd4jTakesEveryCallButAFusedBatchNormRelu() {
    INDArray x = Tensor.zeros(2, 3, 4, 4).data();
    Conv2dGeometry geo = Conv2dGeometry.check(Tensor.of(x), Tensor.zeros(3, 3, 3, 3), null, ONE, ONE, ONE, 1);
    for (DataType dtype : new DataType[] {DataType.FLOAT, DataType.DOUBLE}) {
      INDArray xd = x.castTo(dtype);
      assertTrue(Backends.LIBND4J.supportsConv2d(geo, xd, xd, null, true));
      assertTrue(Backends.LIBND4J.supportsBatchNorm(xd, null, null, false, 1e-5, true, false));
      assertFalse(Backends.LIBND4J.supportsBatchNorm(xd, null, null, false, 1e-5, true, true));
      assertTrue(Backends.LIBND4J.supportsPool2d(window(), Pool2dMode.MAX, xd, true));
    }
    assertFalse(Backends.LIBND4J.kernels().contains(Kernel.BATCH_NORM_RELU));
  }

  @Test
  void float64AndCOrderPoolingGoToLibnd4j() {
    Tensor x = Tensor.randn(new Rng(3), 2, 3, 6, 6);
    INDArray x64 = x.data().castTo(DataType.DOUBLE);
    Conv2dGeometry geo = Conv2dGeometry.check(x, Tensor.zeros(4, 3, 3, 3), null, ONE, ONE, ONE, 1);
    assertFalse(Backends.ONEDNN.supportsConv2d(geo, x64, x64, null, true), "oneDNN: no float64");
    assertSame(Backends.LIBND4J, Backends.conv2d(geo, x64, Tensor.zeros(4, 3, 3, 3).data().castTo(DataType.DOUBLE),
        null, true));
    assertFalse(Backends.ONEDNN.supportsBatchNorm(x64, null, null, false, 1e-5, true, false), "oneDNN: no float64");
    assertSame(Backends.LIBND4J, Backends.batchNorm(x64, null, null, false, 1e-5, true, false));
    // oneDNN's pooling reads channels_last input only
    assertFalse(Backends.ONEDNN.supportsPool2d(window(), Pool2dMode.MAX, x.data(), true));
    assertSame(Backends.LIBND4J, Backends.pool2d(window(), Pool2dMode.MAX, x.data(), true));
    if (OneDnnKernels.available()) {
      INDArray cl = Layout.uninitializedChannelsLast(DataType.FLOAT, x.shape()).assign(x.data());
      assertSame(Backends.ONEDNN, Backends.pool2d(window(), Pool2dMode.MAX, cl, true));
      assertSame(Backends.ONEDNN, Backends.conv2d(geo, x.data(), Tensor.zeros(4, 3, 3, 3).data(), null, true));
    }
  }

  @Test
  void aPinnedBackendThatCannotRunACallFailsLoudly() {
    Tensor x = Tensor.randn(new Rng(5), 1, 2, 5, 5).to(DataType.DOUBLE);
    Tensor w = Tensor.randn(new Rng(7), 3, 2, 3, 3).to(DataType.DOUBLE);
    try (Backends.Pin pin = Backends.pin(Backends.ONEDNN)) {
      GraftException e = assertThrows(GraftException.class, () -> ConvOps.conv2d(x, w, null, ONE, ONE, ONE, 1));
      assertTrue(e.getMessage().contains("onednn") && e.getMessage().contains("DOUBLE"), e.getMessage());
    }
    assertEquals(3, ConvOps.conv2d(x, w, null, ONE, ONE, ONE, 1).shape()[1], "unpinned again: libnd4j runs it");
  }

  @Test
  void withoutAFusedKernelTheReluRunsApart() {
    Tensor x = Tensor.randn(new Rng(9), 2, 3, 4, 4).requiresGrad(true);
    try (Backends.Pin pin = Backends.pin(Backends.LIBND4J)) {
      Tensor y = NormOps.batchNormRelu(x, new NormOps.Args(null, null, null, null, true, 0.1, 1e-5));
      assertEquals("relu", y.gradFn().op());
    }
  }

  @Test
  void oneDnnsRefusalOfAShapeIsAnsweredAndRemembered() {
    AtomicInteger built = new AtomicInteger();
    OneDnn.Cache<String, OneDnn.Destroyable> cache = new OneDnn.Cache<>(4, key -> {
      built.incrementAndGet();
      throw new OneDnn.Unsupported("oneDNN has no primitive for " + key);
    });
    assertFalse(cache.supports("shape", p -> { }));
    assertFalse(cache.supports("shape", p -> { }));
    assertEquals(1, built.get(), "a refused shape is tried once");
    AtomicInteger prepared = new AtomicInteger();
    OneDnn.Cache<String, OneDnn.Destroyable> ok = new OneDnn.Cache<>(4, key -> () -> { });
    assertTrue(ok.supports("shape", p -> prepared.incrementAndGet()));
    assertEquals(1, prepared.get());
    OneDnn.Cache<String, OneDnn.Destroyable> noBackward = new OneDnn.Cache<>(4, key -> () -> { });
    assertFalse(noBackward.supports("shape", p -> {
      throw new OneDnn.Unsupported("no backward primitive");
    }), "a backward oneDNN cannot build refuses the call");
  }

  private static Pool2dWindow window() {
    return Pool2dWindow.check("max_pool2d", Tensor.zeros(2, 3, 6, 6), new int[] {3, 3}, new int[] {2, 2}, ONE, ONE);
  }
}
