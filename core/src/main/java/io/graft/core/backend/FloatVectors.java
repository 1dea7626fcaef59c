package io.graft.core.backend;

import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Small float32 vectors (a layer's per-channel statistics) read and written whole through their native buffers: a
 * bulk copy and a loop in Java cost far less than an ND4J op each on a few hundred values.
 */
public final class FloatVectors {
  private FloatVectors() {}

  /**
   * Whether all are float32 vectors of one length, each its whole float buffer (so {@link #read} and
   * {@link #write} apply).
   */
  public static boolean applies(INDArray... as) {
    for (INDArray a : as) {
      if (a.dataType() != DataType.FLOAT || a.rank() != 1 || a.length() != as[0].length()
          || (a.length() > 1 && a.stride(0) != 1) || a.offset() != 0 || a.data().length() != a.length()
          || !(a.data().pointer() instanceof FloatPointer)) {
        return false;
      }
    }
    return as[0].length() <= Integer.MAX_VALUE;
  }

  /** The values of a vector {@link #applies} to. */
  public static float[] read(INDArray a) {
    float[] r = new float[(int) a.length()];
    new FloatPointer(a.data().pointer()).get(r);
    return r;
  }

  /** Overwrites a vector {@link #applies} to. */
  public static void write(INDArray a, float[] values) {
    new FloatPointer(a.data().pointer()).put(values);
  }
}
