package io.graft.core.ops;

import io.graft.core.NativeMemory;
import org.bytedeco.javacpp.indexer.FloatRawIndexer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import java.util.stream.IntStream;

/**
 * The weight gradient of a convolution whose input needs no gradient (an image network's first layer), as one GEMM
 * per image over the unfolded input: {@code dW (C_out × C_in·kH·kW) += g_n (C_out × H_out·W_out) · cols_nᵀ}.
 * libnd4j's {@code conv2d_bp} always computes the input gradient as well — for ResNet-18's stem (8×3×224², 64 7×7/2
 * filters) ~30 of its ~50 ms — where this costs the unfolding (Java, over the native buffers) and the GEMM.
 */
final class Im2col {
  private Im2col() {}

  /** Whether {@link #weightGradient} applies: float32, C-contiguous, undilated, ungrouped. */
  static boolean supported(INDArray x, ConvOps.Geometry geo) {
    return x.dataType() == DataType.FLOAT && geo.groups() == 1 && geo.dH() == 1 && geo.dW() == 1
        && Layouts.supported(x);
  }

  /** dW for input {@code x (N, C_in, H, W)} and output gradient {@code g (N, C_out, H_out, W_out)}. */
  static INDArray weightGradient(INDArray x, INDArray g, ConvOps.Geometry geo) {
    INDArray xc = Layouts.ownBuffer(x);
    INDArray gc = ShapeOps.contiguous(g);
    long n = x.size(0);
    long k = geo.cin() * geo.kH() * geo.kW();
    long pixels = geo.hOut() * geo.wOut();
    INDArray cols = NativeMemory.uninitialized(DataType.FLOAT, k, pixels);
    INDArray gw = NativeMemory.uninitialized(DataType.FLOAT, geo.cout(), k);
    FloatRawIndexer xi = Layouts.floats(xc);
    FloatRawIndexer ci = Layouts.floats(cols);
    for (long i = 0; i < n; i++) {
      unfold(xi, i, ci, x.size(2), x.size(3), geo);
      INDArray gi = gc.get(NDArrayIndex.point(i)).reshape('c', geo.cout(), pixels);
      Nd4j.gemm(gi, cols, gw, false, true, 1.0, i == 0 ? 0.0 : 1.0);
    }
    NativeMemory.release(cols);
    return gw.reshape('c', geo.cout(), geo.cin(), geo.kH(), geo.kW());
  }

  /** cols[(c, kh, kw), (oh, ow)] = zero-padded x[image, c, oh·sH − pH + kh, ow·sW − pW + kw]; rows over threads. */
  private static void unfold(FloatRawIndexer x, long image, FloatRawIndexer cols, long h, long w,
      ConvOps.Geometry geo) {
    int kh = geo.kH();
    int kw = geo.kW();
    long ho = geo.hOut();
    long wo = geo.wOut();
    long base = image * geo.cin() * h * w;
    IntStream.range(0, (int) (geo.cin() * kh * kw)).parallel().forEach(row -> {
      long c = row / (kh * kw);
      long dy = (row / kw) % kh;
      long dx = row % kw;
      long out = row * ho * wo;
      for (long oy = 0; oy < ho; oy++) {
        long iy = oy * geo.sH() - geo.pH() + dy;
        long o = out + oy * wo;
        if (iy < 0 || iy >= h) {
          for (long ox = 0; ox < wo; ox++) {
            cols.put(o + ox, 0f);
          }
          continue;
        }
        long in = base + (c * h + iy) * w;
        for (long ox = 0; ox < wo; ox++) {
          long ix = ox * geo.sW() - geo.pW() + dx;
          cols.put(o + ox, ix >= 0 && ix < w ? x.get(in + ix) : 0f);
        }
      }
    });
  }
}
