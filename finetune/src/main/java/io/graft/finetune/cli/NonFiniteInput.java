package io.graft.finetune.cli;

import io.graft.core.Tensor;
import java.io.PrintWriter;
import java.nio.file.Path;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Input values that are NaN or infinite: counted and warned about, since they pass through a network silently. */
final class NonFiniteInput {
  private NonFiniteInput() {}

  /** Counts the NaN and infinite values of {@code x} and prints one warning line naming the file if any. */
  static long warn(Tensor x, Path file, PrintWriter err) {
    if (!x.dtype().isFPType() || x.numel() == 0) {
      return 0;
    }
    INDArray a = x.data();
    long nan = a.isNaN().castTo(DataType.INT).sumNumber().longValue();
    long inf = a.isInfinite().castTo(DataType.INT).sumNumber().longValue();
    if (nan + inf > 0) {
      err.printf("graft: warning: %s holds %d non-finite values (%d NaN, %d infinite) of %d; the outputs of the "
          + "samples that hold them will be NaN or infinite%n", file, nan + inf, nan, inf, x.numel());
      err.flush();
    }
    return nan + inf;
  }
}
