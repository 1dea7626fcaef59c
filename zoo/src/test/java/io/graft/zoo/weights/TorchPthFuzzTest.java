package io.graft.zoo.weights;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.graft.core.GraftException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Coverage-guided fuzzing (Jazzer) of the {@code .pth} reader, zip and legacy formats, seeded with real
 * {@code torch.save} files and hostile pickles. Every input must end in a state dict or a {@link GraftException};
 * Jazzer's sanitizers also flag any attempt to run a command or deserialize arbitrary classes.
 */
class TorchPthFuzzTest {
  @FuzzTest(maxExecutions = 100_000, maxDuration = "90s")
  void fuzz(byte[] data) throws IOException {
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
}
