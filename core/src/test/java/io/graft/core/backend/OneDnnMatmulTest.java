package io.graft.core.backend;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Tensor;
import io.graft.core.ops.LinalgOps;
import io.graft.core.random.Rng;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * oneDNN's batched matmul ({@link OneDnnMatmul}) against libnd4j's float64 {@code matmul}, forward and both operand
 * gradients, for operands in the layouts attention gives it: C order, a transposed view, heads permuted out of a
 * packed projection, an offset slice.
 */
class OneDnnMatmulTest {
  private static final boolean ON = Boolean.parseBoolean(System.getProperty(OneDnn.PROPERTY, "true"))
      && System.getProperty("os.name").startsWith("Linux") && System.getProperty("os.arch").equals("amd64");

  /** (a, b) from two random sources shaped as the case makes them; each returns operands of a batched product. */
  private record Case(String name, long[] as, long[] bs, BiFunction<Tensor, Tensor, Tensor[]> make) {}

  @Test
  void batchedProductsEqualLibnd4jFloat64InEveryLayout() {
    Case[] cases = {
        new Case("C order", new long[] {3, 4, 5}, new long[] {3, 5, 6}, (a, b) -> new Tensor[] {a, b}),
        new Case("4-D C order", new long[] {2, 3, 7, 4}, new long[] {2, 3, 4, 5}, (a, b) -> new Tensor[] {a, b}),
        new Case("b transposed (q kᵀ)", new long[] {2, 3, 7, 4}, new long[] {2, 3, 6, 4},
            (a, b) -> new Tensor[] {a, b.transpose(-2, -1)}),
        new Case("a transposed", new long[] {4, 5, 3}, new long[] {4, 5, 6},
            (a, b) -> new Tensor[] {a.transpose(-2, -1), b}),
        new Case("heads of a packed projection", new long[] {2, 7, 3, 3, 4}, new long[] {2, 7, 3, 3, 4},
            (a, b) -> {
              Tensor qkv = a.permute(2, 0, 3, 1, 4);   // (3, N, H, L, hd) as MultiheadAttention slices it
              Tensor kv = b.permute(2, 0, 3, 1, 4);
              Tensor q = qkv.slice(0, 0, 1, 1).squeeze(0);
              Tensor k = kv.slice(0, 1, 2, 1).squeeze(0);
              return new Tensor[] {q, k.transpose(-2, -1)};
            }),
        new Case("one row, one column", new long[] {5, 1, 8}, new long[] {5, 8, 1}, (a, b) -> new Tensor[] {a, b}),
    };
    for (Case c : cases) {
      Rng rng = new Rng(11);
      Tensor a32 = Tensor.randn(rng, c.as()).requiresGrad(true);
      Tensor b32 = Tensor.randn(rng, c.bs()).requiresGrad(true);
      Tensor a64 = Tensor.of(a32.data().castTo(DataType.DOUBLE).dup('c')).requiresGrad(true);
      Tensor b64 = Tensor.of(b32.data().castTo(DataType.DOUBLE).dup('c')).requiresGrad(true);
      Tensor[] ops32 = c.make().apply(a32, b32);
      Tensor[] ops64 = c.make().apply(a64, b64);
      if (ON) {
        assertSame(Backends.ONEDNN, Backends.batchedMatmul(ops32[0].data(), ops32[1].data(), true),
            c.name() + ": oneDNN runs it");
      }
      assertNull(Backends.batchedMatmul(ops64[0].data(), ops64[1].data(), true), c.name() + ": float64 on libnd4j");
      Tensor y32 = LinalgOps.matmul(ops32[0], ops32[1]);
      Tensor y64 = LinalgOps.matmul(ops64[0], ops64[1]);
      assertEquals('c', y32.data().ordering(), c.name());
      Tensor g = Tensor.randn(new Rng(5), y32.shape());
      y32.backward(g);
      y64.backward(g.to(DataType.DOUBLE));
      assertClose(y32, y64, 1e-5, 1e-4, c.name() + " forward");
      assertClose(a32.grad(), a64.grad(), 1e-5, 1e-4, c.name() + " grad a");
      assertClose(b32.grad(), b64.grad(), 1e-5, 1e-4, c.name() + " grad b");
    }
  }

  @Test
  void broadcastOrMismatchedOperandsAreNotTaken() {
    Tensor a = Tensor.zeros(2, 3, 4);
    assertFalse(OneDnnMatmul.takes(a.data(), Tensor.zeros(1, 4, 5).data()), "broadcast batch: libnd4j");
    assertFalse(OneDnnMatmul.takes(a.data(), Tensor.zeros(2, 5, 5).data()), "inner sizes differ");
    assertFalse(OneDnnMatmul.takes(Tensor.zeros(3, 4).data(), Tensor.zeros(4, 5).data()), "2-D: not batched");
    assertFalse(OneDnnMatmul.takes(a.data(), Tensor.zeros(2, 4, 0).data()), "empty");
    assertTrue(!ON || OneDnnMatmul.takes(a.data(), Tensor.zeros(2, 4, 5).data()), "a plain batched product");
  }
}
