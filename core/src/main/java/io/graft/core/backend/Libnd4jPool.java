package io.graft.core.backend;

import io.graft.core.Layout;
import io.graft.core.NativeMemory;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * 2-D max and average pooling on libnd4j's kernels, any dtype; channels_last input pools as NHWC and gives a
 * channels_last output (PyTorch's rule).
 */
final class Libnd4jPool {
  private Libnd4jPool() {}

  static INDArray forward(Pool2dWindow w, Pool2dMode mode, INDArray x) {
    boolean cl = Layout.isChannelsLast(x);
    long[] shape = {x.size(0), x.size(1), w.hOut(), w.wOut()};
    INDArray out = cl ? Layout.uninitializedChannelsLast(x.dataType(), shape)
        : NativeMemory.uninitialized(x.dataType(), shape);
    Nd4j.exec(DynamicCustomOp.builder(kernel(mode)).addInputs(cl ? nhwc(x) : x).addOutputs(cl ? nhwc(out) : out)
        .addIntegerArguments(w.iargs(extra(mode), cl)).build());
    return out;
  }

  static INDArray backward(Pool2dWindow w, Pool2dMode mode, INDArray x, INDArray g) {
    String kernel = kernel(mode) + "_bp";
    if (!Layout.isChannelsLast(x)) {
      INDArray gx = NativeMemory.zeros(x.dataType(), x.shape());
      Nd4j.exec(DynamicCustomOp.builder(kernel).addInputs(x, g).addOutputs(gx).addIntegerArguments(w.iargs(
          extra(mode), false)).build());
      return gx;
    }
    INDArray gcl = Layout.isChannelsLast(g) ? g : Layout.uninitializedChannelsLast(g.dataType(), g.shape()).assign(g);
    INDArray gx = Layout.uninitializedChannelsLast(x.dataType(), x.shape());
    Layout.flat(gx).assign(0);
    Nd4j.exec(DynamicCustomOp.builder(kernel).addInputs(nhwc(x), nhwc(gcl)).addOutputs(nhwc(gx))
        .addIntegerArguments(w.iargs(extra(mode), true)).build());
    return gx;
  }

  private static String kernel(Pool2dMode mode) {
    return mode == Pool2dMode.MAX ? "maxpool2d" : "avgpool2d";
  }

  /** libnd4j's extra argument: 1 counts the padded zeros in an average's divisor. */
  private static int extra(Pool2dMode mode) {
    return mode == Pool2dMode.AVG_INCLUDE_PAD ? 1 : 0;
  }

  /** A channels_last array indexed as stored: {@code (N, H, W, C)}, C-ordered. */
  private static INDArray nhwc(INDArray channelsLast) {
    return channelsLast.permute(0, 2, 3, 1);
  }
}
