package io.graft.benchmarks;

import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.Sequential;
import io.graft.layers.activation.ReLU;
import io.graft.layers.loss.CrossEntropyLoss;
import io.graft.layers.loss.Loss;
import io.graft.optim.Optimizer;
import io.graft.optim.SGD;
import io.graft.zoo.models.Zoo;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The workloads shared by the benchmarks and mirrored by {@code tools/bench/pytorch_bench.py}: the same shapes,
 * batch sizes, optimizer (SGD lr 0.01, momentum 0.9) and loss (cross-entropy).
 */
final class Workloads {
  private Workloads() {}

  static void threads(int n) {
    io.graft.core.Backend.init(); // Graft chooses the native build before ND4J loads one
    Nd4j.getEnvironment().setMaxThreads(n);
    Nd4j.getEnvironment().setMaxMasterThreads(n);
  }

  static Module mlp() {
    Rng rng = new Rng(1);
    return new Sequential(new Linear(784, 512, true, rng), new ReLU(), new Linear(512, 512, true, rng), new ReLU(),
        new Linear(512, 10, true, rng));
  }

  static Module model(String name, int classes) {
    return name.equals("mlp") ? mlp() : Zoo.create(name, classes);
  }

  static Tensor input(String name, int batch, int size) {
    Rng rng = new Rng(2);
    return switch (name) {
      case "mlp" -> Tensor.randn(rng, batch, 784);
      case "smallcnn" -> Tensor.randn(rng, batch, 1, 28, 28);
      default -> Tensor.randn(rng, batch, 3, size, size);
    };
  }

  static Tensor labels(int batch, int classes) {
    long[] y = new long[batch];
    for (int i = 0; i < batch; i++) {
      y[i] = i % classes;
    }
    return Tensor.fromArray(y, batch);
  }

  static Optimizer sgd(Module m) {
    return new SGD(SGD.Options.lr(0.01).withMomentum(0.9), m.namedParameters());
  }

  /** One training step: zero grads, forward, cross-entropy, backward, SGD step; returns the loss. */
  static double step(Module m, Optimizer opt, Loss loss, Tensor x, Tensor y) {
    opt.zeroGrad();
    Tensor l = loss.forward(m.call(x), y);
    l.backward();
    opt.step();
    return l.item();
  }

  static final Loss CE = new CrossEntropyLoss();
}
