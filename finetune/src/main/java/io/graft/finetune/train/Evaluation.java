package io.graft.finetune.train;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.finetune.data.DataLoader;
import io.graft.layers.Module;
import io.graft.layers.loss.Loss;

/**
 * Validation metrics over a whole loader: mean loss, top-1 and top-5 accuracy (percent), per-class accuracy and
 * the confusion matrix ({@code confusion[true][predicted]}).
 */
public record Evaluation(double loss, double top1, double top5, double[] perClassAccuracy, long[][] confusion,
    long count) {

  /** Runs {@code model} in eval mode without gradients over every batch (restoring its training flag after). */
  public static Evaluation of(Module model, DataLoader loader, Loss loss, int numClasses) {
    boolean wasTraining = model.isTraining();
    model.eval();
    Accumulator acc = new Accumulator(numClasses);
    try (var g = GradMode.disabled()) {
      for (DataLoader.Batch b : loader.epoch(0)) {
        Tensor logits = model.call(b.x());
        acc.add(logits, b.y(), loss.forward(logits, b.y()).item());
      }
    } finally {
      model.train(wasTraining);
    }
    return acc.result();
  }

  /** Sums metrics batch by batch (also used for training-set metrics during an epoch). */
  public static final class Accumulator {
    private final int numClasses;
    private final long[][] confusion;
    private double lossSum;
    private long top5;
    private long n;

    /** An empty accumulator for logits of {@code numClasses} classes. */
    public Accumulator(int numClasses) {
      this.numClasses = numClasses;
      this.confusion = new long[numClasses][numClasses];
    }

    /** @param meanLoss the batch's mean loss */
    public void add(Tensor logits, Tensor labels, double meanLoss) {
      long[] shape = logits.shape();
      if (shape.length != 2 || shape[1] != numClasses || labels.numel() != shape[0]) {
        throw new GraftException("evaluation: logits of shape " + java.util.Arrays.toString(shape) + " and "
            + labels.numel() + " labels do not fit " + numClasses + " classes");
      }
      float[] l = logits.toFloatArray();
      long[] y = labels.toLongArray();
      int c = numClasses;
      for (long label : y) {
        if (label < 0 || label >= numClasses) {
          throw new GraftException("evaluation: label " + label + " is outside the " + numClasses + " classes");
        }
      }
      for (int i = 0; i < y.length; i++) {
        int best = 0;
        int rank = 0;
        float target = l[i * c + (int) y[i]];
        for (int j = 0; j < c; j++) {
          float v = l[i * c + j];
          if (v > l[i * c + best]) {
            best = j;
          }
          if (v > target || (v == target && j < y[i])) {
            rank++;
          }
        }
        confusion[(int) y[i]][best]++;
        top5 += rank < 5 ? 1 : 0;
      }
      lossSum += meanLoss * y.length;
      n += y.length;
    }

    /** The number of examples added so far. */
    public long count() {
      return n;
    }

    /** The metrics of everything added so far: loss, accuracy, top-5, per-class accuracy, confusion matrix. */
    public Evaluation result() {
      long correct = 0;
      double[] perClass = new double[numClasses];
      for (int k = 0; k < numClasses; k++) {
        long row = 0;
        for (long v : confusion[k]) {
          row += v;
        }
        correct += confusion[k][k];
        perClass[k] = row == 0 ? Double.NaN : 100.0 * confusion[k][k] / row;
      }
      return new Evaluation(n == 0 ? Double.NaN : lossSum / n, n == 0 ? Double.NaN : 100.0 * correct / n,
          n == 0 ? Double.NaN : 100.0 * top5 / n, perClass, confusion, n);
    }
  }
}
