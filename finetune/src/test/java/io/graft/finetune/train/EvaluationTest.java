package io.graft.finetune.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import org.junit.jupiter.api.Test;

/** Validation metrics on hand-computed logits: top-1, top-5, per-class accuracy, confusion matrix, mean loss. */
class EvaluationTest {
  @Test
  void metricsFromKnownLogits() {
    Evaluation.Accumulator acc = new Evaluation.Accumulator(6);
    // sample 0: label 2, ranked first -> top-1 and top-5 hit
    // sample 1: label 0, ranked 5th (four larger logits) -> top-5 hit only, predicted 5
    // sample 2: label 1, ranked 6th -> miss, predicted 3
    acc.add(Tensor.fromArray(new float[] {
        0.1f, 0.2f, 0.9f, 0.3f, 0.0f, 0.4f,
        0.2f, 0.5f, 0.6f, 0.7f, 0.1f, 0.8f,
        0.5f, 0.0f, 0.4f, 0.9f, 0.3f, 0.2f}, 3, 6), Tensor.fromArray(new long[] {2, 0, 1}, 3), 1.5);
    // a second batch: label 5 predicted 5, with a tie at the top resolved to the lower index (as torch.argmax)
    acc.add(Tensor.fromArray(new float[] {0f, 0f, 0f, 0f, 1f, 1f}, 1, 6), Tensor.fromArray(new long[] {5}, 1), 0.5);
    Evaluation e = acc.result();
    assertEquals(4, e.count());
    assertEquals((1.5 * 3 + 0.5) / 4, e.loss(), 1e-12, "mean loss weighted by batch size");
    assertEquals(25.0, e.top1(), 1e-12, "only sample 0 is right (the tie predicts class 4)");
    assertEquals(75.0, e.top5(), 1e-12);
    long[][] c = e.confusion();
    assertEquals(1, c[2][2]);
    assertEquals(1, c[0][5]);
    assertEquals(1, c[1][3]);
    assertEquals(1, c[5][4]);
    long total = 0;
    for (long[] row : c) {
      for (long v : row) {
        total += v;
      }
    }
    assertEquals(4, total);
    double[] perClass = e.perClassAccuracy();
    assertArrayEquals(new double[] {0, 0, 100, Double.NaN, Double.NaN, 0}, perClass, 1e-12,
        "classes without examples are NaN, not 0");
  }

  @Test
  void labelsOutsideTheClassesAreAClearError() {
    Evaluation.Accumulator acc = new Evaluation.Accumulator(3);
    GraftException e = assertThrows(GraftException.class,
        () -> acc.add(Tensor.zeros(2, 3), Tensor.fromArray(new long[] {0, 3}, 2), 1.0));
    assertTrue(e.getMessage().contains("label 3") && e.getMessage().contains("3 classes"), e.getMessage());
    assertThrows(GraftException.class, () -> acc.add(Tensor.zeros(2, 4), Tensor.fromArray(new long[] {0, 1}, 2), 1));
  }
}
