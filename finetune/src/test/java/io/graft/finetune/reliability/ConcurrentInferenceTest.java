package io.graft.finetune.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.random.Rng;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * One model in eval mode serving 8 threads gives exactly the results of serial calls (the thread-safety contract
 * in Module's documentation: eval-mode {@code call} under no-grad may run concurrently).
 */
class ConcurrentInferenceTest {
  @Test
  void eightThreadsMatchSerialResults() throws Exception {
    Module model = Zoo.create("resnet18", 10);
    model.eval();
    int n = 32;
    List<Tensor> inputs = new ArrayList<>();
    List<float[]> serial = new ArrayList<>();
    try (var g = GradMode.disabled()) {
      for (int i = 0; i < n; i++) {
        Tensor x = Tensor.randn(new Rng(i), 2, 3, 32, 32);
        inputs.add(x);
        serial.add(model.call(x).toFloatArray());
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<float[]>> futures = new ArrayList<>();
      for (int round = 0; round < 3; round++) {
        for (int i = 0; i < n; i++) {
          Tensor x = inputs.get(i);
          futures.add(pool.submit(() -> {
            try (var g = GradMode.disabled()) {
              return model.call(x).toFloatArray();
            }
          }));
        }
      }
      for (int k = 0; k < futures.size(); k++) {
        assertArrayEquals(serial.get(k % n), futures.get(k).get(), "input " + (k % n));
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
