package io.graft.finetune.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProgressTest {
  /** Runs {@code epochs} epochs of {@code batches} batches of two images, losses 1, 2, 3, ... per epoch. */
  private static List<String> run(boolean enabled, int epochs, int batches) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    for (int e = 0; e < epochs; e++) {
      Evaluation.Accumulator acc = new Evaluation.Accumulator(2);
      try (Progress p = Progress.of(enabled, e, epochs, batches, out, false)) {
        for (int b = 0; b < batches; b++) {
          // image 0 of class 0 right, image 1 of class 1 wrong: 50% accuracy
          acc.add(Tensor.fromArray(new float[] {2, 1, 2, 1}, 2, 2), Tensor.fromArray(new long[] {0, 1}, 2), b + 1);
          p.step(acc);
        }
      }
    }
    String text = bytes.toString(StandardCharsets.UTF_8);
    return text.isEmpty() ? List.of() : List.of(text.split("\n", -1)).subList(0, (int) text.lines().count());
  }

  @Test
  void offATerminalItIsOneLinePerEpochWithTheRunningMeanLoss() {
    List<String> lines = run(true, 3, 40);
    assertEquals(3, lines.size(), String.join("\n", lines));
    for (int e = 0; e < 3; e++) {
      String l = lines.get(e);
      // the mean of the batch losses 1..40 (each over two images) is 20.5, not the last batch's 40
      assertTrue(l.startsWith("epoch " + (e + 1) + "/3: 40/40 batches, loss 20.5000 acc 50.0% "), l);
      assertTrue(l.endsWith(" img/s"), l);
    }
  }

  @Test
  void disabledItPrintsNothing() {
    assertEquals(List.of(), run(false, 2, 5));
  }
}
