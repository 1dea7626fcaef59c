package io.graft.zoo.weights;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.graft.core.GraftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Coverage-guided fuzzing of the ONNX initializer reader (see {@link TorchPthFuzzTest}). */
class OnnxFuzzTest {
  @FuzzTest(maxExecutions = 150_000, maxDuration = "60s")
  void fuzz(byte[] data) throws IOException {
    Path dir = Files.createTempDirectory("fuzz");
    Path p = dir.resolve("model.onnx");
    try {
      Files.write(p, data);
      OnnxWeights.read(p).numel();
    } catch (GraftException refused) {
      // a clear refusal
    } finally {
      Files.deleteIfExists(p);
      Files.deleteIfExists(dir);
    }
  }
}
