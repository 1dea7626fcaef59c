package io.graft.zoo.weights;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.graft.core.GraftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Coverage-guided fuzzing (Jazzer) of the {@code .pth} reader, zip and legacy formats, seeded with real
 * {@code torch.save} files and hostile pickles. Every input must end in a state dict or a {@link GraftException};
 * Jazzer's sanitizers also flag any attempt to run a command or deserialize arbitrary classes.
 *
 * <p>{@link #fuzz} mutates bytes and also builds well-formed pickles from the fuzzer's choices
 * ({@link PthFiles}): storages of every type with right or wrong byte counts, shared between views of rank 0 to 100
 * with sizes, strides (0 and negative included) and storage offsets of any value, in the zip format (each entry
 * stored or deflated, declared sizes honest or lying) or the legacy one.
 */
class TorchPthFuzzTest {
  private static final String[] TYPES = {"FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage",
      "LongStorage", "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage"};
  private static final int[] WIDTH = {4, 2, 2, 8, 8, 4, 2, 1, 1, 1};

  /**
   * The input's last byte picks the mode (Jazzer runs one fuzz test per class): odd, the rest of the input is the
   * file (the seeds end in 0x01); even, the input drives {@link #file}.
   */
  @FuzzTest(maxExecutions = 20_000, maxDuration = "90s")
  void fuzz(FuzzedDataProvider d) throws IOException {
    read(d.consumeBoolean() ? d.consumeRemainingAsBytes() : file(d));
  }

  private static void read(byte[] data) throws IOException {
    Path p = Files.createTempFile("fuzz", ".pth");
    try {
      Files.write(p, data);
      TorchPth.read(p).numel();
    } catch (GraftException refused) {
      // a clear refusal
    } finally {
      Files.deleteIfExists(p);
    }
  }

  /** A {@code torch.save}-shaped file built from the fuzzer's choices. */
  static byte[] file(FuzzedDataProvider d) {
    int nStorages = d.consumeInt(1, 3);
    PthFiles.Storage[] storages = new PthFiles.Storage[nStorages];
    for (int i = 0; i < nStorages; i++) {
      int t = d.consumeInt(0, TYPES.length - 1);
      long numel = d.consumeInt(0, 15) == 0 ? d.consumeLong(-1, Long.MAX_VALUE) : d.consumeInt(0, 64);
      int bytes = (int) Math.max(0, Math.min(numel * WIDTH[t] + (d.consumeInt(0, 7) == 0 ? d.consumeInt(-4, 4) : 0),
          1 << 12));
      storages[i] = new PthFiles.Storage(String.valueOf(i), TYPES[t], numel, d.consumeBytes(bytes));
    }
    PthFiles f = new PthFiles();
    int views = d.consumeInt(1, 4);
    for (int v = 0; v < views; v++) {
      int rank = d.consumeBoolean() ? d.consumeInt(0, 4) : d.consumeInt(0, 100);
      long[] size = new long[rank];
      long[] stride = new long[rank];
      boolean contiguous = d.consumeBoolean();
      for (int r = 0; r < rank; r++) {
        // small sizes at high rank, or most inputs would build tensors of millions of elements and slow the fuzzer
        size[r] = d.consumeInt(0, 7) == 0 ? d.consumeLong(-2, Long.MAX_VALUE) : d.consumeInt(0, rank > 4 ? 2 : 6);
        stride[r] = d.consumeInt(0, 7) == 0 ? d.consumeLong() : d.consumeInt(-2, 8);
      }
      if (contiguous) {
        stride = PthFiles.contiguous(size);
      }
      long offset = d.consumeInt(0, 7) == 0 ? d.consumeLong() : d.consumeInt(0, 8);
      f.add("t" + v, storages[d.consumeInt(0, nStorages - 1)], offset, size, stride);
    }
    if (d.consumeInt(0, 3) == 0) {
      return f.legacy();
    }
    boolean deflate = d.consumeBoolean();
    Map<String, Long> lies = null;
    if (d.consumeInt(0, 3) == 0) {
      lies = Map.of(String.valueOf(d.consumeInt(0, nStorages - 1)), d.consumeLong(0, 0xFFFFFFFFL));
    }
    return f.zip(deflate, lies);
  }
}
