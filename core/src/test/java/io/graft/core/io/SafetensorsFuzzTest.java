package io.graft.core.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.graft.core.GraftException;

/**
 * Coverage-guided fuzzing (Jazzer) of the safetensors reader, seeded with real files
 * ({@code src/test/resources/io/graft/core/io/SafetensorsFuzzTestInputs/fuzz/}). Every input must end in a result or
 * a {@link GraftException}; any other exception, a JVM crash or an unjustified allocation is a finding. The suite
 * fuzzes for {@code maxDuration} (surefire's {@code fuzz} execution sets {@code JAZZER_FUZZ=1}); see
 * docs/reliability.md for longer runs.
 */
class SafetensorsFuzzTest {
  @FuzzTest(maxExecutions = 300_000, maxDuration = "60s")
  void fuzz(byte[] data) {
    try {
      Safetensors.File f = Safetensors.open(data, "fuzz.safetensors");
      for (Safetensors.Entry e : f.entries()) {
        f.tensor(e.name()).numel();
      }
      f.metadata();
    } catch (GraftException refused) {
      // a clear refusal is the right outcome for a broken file
    }
  }
}
