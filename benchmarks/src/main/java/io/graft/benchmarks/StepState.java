package io.graft.benchmarks;

import io.graft.core.Tensor;
import io.graft.layers.Module;
import io.graft.optim.Optimizer;

/** What a training-step benchmark holds once set up: the model, its optimizer and one batch. */
abstract class StepState {
  Module model;
  Optimizer opt;
  Tensor x;
  Tensor y;

  /** Sets the benchmark up for {@code workload} on {@code threads} threads, as JMH would with those parameters. */
  abstract void prepare(String workload, int threads);

  /** One training step (cross-entropy); returns the loss. */
  final double step() {
    return Workloads.step(model, opt, Workloads.CE, x, y);
  }
}
