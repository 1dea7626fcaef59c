package io.graft.core.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.graft.core.GraftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Coverage-guided fuzzing of the {@code .npy} reader (see {@link SafetensorsFuzzTest}). */
class NpyFuzzTest {
  @FuzzTest(maxExecutions = 100_000, maxDuration = "45s")
  void fuzz(byte[] data) throws IOException {
    Path p = Files.createTempFile("fuzz", ".npy");
    try {
      Files.write(p, data);
      Npy.read(p).numel();
    } catch (GraftException refused) {
      // refused with a message
    } finally {
      Files.deleteIfExists(p);
    }
  }
}
