package io.graft.zoo.onnx;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.graft.core.GraftException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Coverage-guided fuzzing (Jazzer) of ONNX graph import and execution, seeded with real exports: every input
 * must load and run, or end in a {@link GraftException} that Graft raised itself (a wrapped failure from below
 * Graft's checks counts as a finding).
 */
class OnnxModelFuzzTest {
  @FuzzTest(maxExecutions = 40_000, maxDuration = "60s")
  void fuzz(byte[] data) throws IOException {
    Path p = Files.createTempFile("fuzz", ".onnx");
    try {
      Files.write(p, data);
      OnnxModel m = OnnxModel.load(p);
      if (m.inputNames().size() == 1) {
        long[] s = m.inputShape(m.inputNames().get(0));
        if (s != null) {
          for (int k = 0; k < s.length; k++) {
            s[k] = s[k] < 0 ? 2 : s[k];
          }
          if (Shapes.numel(s) <= 4096) {
            try (var g = GradMode.disabled()) {
              m.forward(Tensor.ones(s));
            }
          }
        }
      }
    } catch (GraftException refused) {
      if (refused.getCause() instanceof RuntimeException r && !(r instanceof GraftException)) {
        throw new IllegalStateException("an ONNX node failed below Graft's checks", refused);
      }
    } catch (ArithmeticException overflow) {
      throw overflow;
    } finally {
      Files.deleteIfExists(p);
    }
  }
}
