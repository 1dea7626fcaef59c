package io.graft.zoo;

import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.Npy;
import io.graft.zoo.onnx.OnnxModel;
import io.graft.zoo.weights.Weights;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A child JVM for {@link ReaderMemoryTest}: reads one file the way the command line does and prints how it ended
 * ({@code ok}, {@code refused} with the message, or {@code crash}) and the process's peak resident memory.
 *
 * <p>Kinds: {@code baseline} (ND4J started, nothing read), {@code weights} (any weight file, through
 * {@link Weights#read}), {@code npy}, and {@code onnx-run} (the graph loaded and run on zeros of its declared input
 * shapes).
 */
public final class MemoryChild {
  private MemoryChild() {}

  public static void main(String[] args) throws Exception {
    String kind = args[0];
    String outcome;
    try {
      Tensor.zeros(2, 2).add(Tensor.ones(2, 2)); // the backend is up in every kind, the baseline included
      switch (kind) {
        case "baseline" -> { }
        case "weights" -> {
          StateDict sd = Weights.read(Path.of(args[1]));
          long n = 0;
          for (var e : sd) {
            n += e.getValue().numel();
          }
          System.out.println("elements " + n);
        }
        case "npy" -> System.out.println("elements " + Npy.read(Path.of(args[1])).numel());
        case "onnx-run" -> {
          OnnxModel m = OnnxModel.load(Path.of(args[1]));
          m.eval();
          List<Tensor> in = new ArrayList<>();
          for (String name : m.inputNames()) {
            long[] shape = m.inputShape(name) == null ? new long[] {1} : m.inputShape(name);
            for (int i = 0; i < shape.length; i++) {
              shape[i] = Math.max(shape[i], 1);
            }
            in.add(Tensor.zeros(shape));
          }
          try (var g = GradMode.disabled()) {
            m.forward(in.toArray(Tensor[]::new));
          }
        }
        default -> throw new IllegalArgumentException(kind);
      }
      outcome = "ok";
    } catch (GraftException e) {
      outcome = "refused " + e.getMessage().replace('\n', ' ');
    } catch (Throwable e) {
      outcome = "crash " + e;
    }
    System.out.println("outcome " + outcome);
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmHWM:")) {
        System.out.println("peak_kib " + line.replaceAll("\\D", ""));
      }
    }
    System.out.flush();
    System.exit(0);
  }
}
