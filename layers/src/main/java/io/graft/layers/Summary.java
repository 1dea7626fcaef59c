package io.graft.layers;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The table a fine-tuner checks first: every module's path, type, output shape for a given input shape, and
 * parameter counts (total and trainable, counted over the module's subtree), then totals for total, trainable
 * and frozen parameters.
 *
 * <pre>{@code
 * System.out.println(Summary.of(model, 1, 3, 224, 224));
 * }</pre>
 *
 * <p>The forward pass runs on zeros in eval mode without gradients; every module's training flag is restored
 * afterwards and BatchNorm statistics are not touched.
 */
public final class Summary {
  /** One module: its path ({@code ""} for the root), type, last output shape (null if not called), counts. */
  public record Row(String path, String type, long[] outputShape, long params, long trainable) {}

  private final List<Row> rows;
  private final long total;
  private final long trainable;

  private Summary(List<Row> rows, long total, long trainable) {
    this.rows = rows;
    this.total = total;
    this.trainable = trainable;
  }

  /** Runs {@code model} once on zeros of {@code inputShape} (batch dimension included) and tabulates it. */
  public static Summary of(Module model, long... inputShape) {
    return of(model, DataType.FLOAT, inputShape);
  }

  /**
   * Runs {@code model} once in eval mode without grad on zeros of {@code dtype} and {@code inputShape} (batch dimension
   * included) and tabulates each module's output shape and parameter counts; every module's training flag is restored
   * afterwards. Throws {@link GraftException} for a non-positive size.
   */
  public static Summary of(Module model, DataType dtype, long... inputShape) {
    for (long d : inputShape) {
      if (d < 1) {
        throw new GraftException("Summary: input shape must be positive, got " + Arrays.toString(inputShape));
      }
    }
    Map<String, Module> modules = model.namedModules();
    Map<Module, long[]> shapes = new IdentityHashMap<>();
    Map<Module, Boolean> modes = new IdentityHashMap<>();
    List<AutoCloseable> handles = new ArrayList<>();
    for (Module m : modules.values()) {
      modes.put(m, m.isTraining());
      handles.add(m.addForwardHook((mod, in, out) -> shapes.put(mod, out.shape())));
    }
    try (var g = GradMode.disabled()) {
      model.eval();
      model.call(Tensor.zeros(dtype, inputShape));
    } finally {
      for (AutoCloseable h : handles) {
        try {
          h.close();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }
      modes.forEach(Module::setOwnTrainingFlag);
    }
    List<Row> rows = new ArrayList<>();
    for (Map.Entry<String, Module> e : modules.entrySet()) {
      long n = 0;
      long t = 0;
      for (Parameter p : e.getValue().parameters()) {
        n += p.numel();
        t += p.requiresGrad() ? p.numel() : 0;
      }
      rows.add(new Row(e.getKey(), e.getValue().typeName(), shapes.get(e.getValue()), n, t));
    }
    Row root = rows.get(0);
    return new Summary(rows, root.params(), root.trainable());
  }

  /** One row per module, the model itself first, in {@link Module#namedModules()} order. */
  public List<Row> rows() {
    return rows;
  }

  /** The number of parameter elements in the whole model. */
  public long totalParams() {
    return total;
  }

  /** The number of parameter elements that require grad. */
  public long trainableParams() {
    return trainable;
  }

  /** The number of parameter elements that are frozen ({@code requiresGrad(false)}). */
  public long frozenParams() {
    return total - trainable;
  }

  @Override
  public String toString() {
    List<String[]> cells = new ArrayList<>();
    cells.add(new String[] {"Layer", "Type", "Output shape", "Params", "Trainable"});
    for (Row r : rows) {
      int depth = r.path().isEmpty() ? 0 : r.path().split("\\.").length;
      cells.add(new String[] {"  ".repeat(Math.max(0, depth - 1)) + (r.path().isEmpty() ? "(root)" : r.path()),
          r.type(), r.outputShape() == null ? "-" : Arrays.toString(r.outputShape()), String.format("%,d", r.params()),
          String.format("%,d", r.trainable())});
    }
    int[] w = new int[5];
    for (String[] c : cells) {
      for (int i = 0; i < 5; i++) {
        w[i] = Math.max(w[i], c[i].length());
      }
    }
    StringBuilder sb = new StringBuilder();
    String rule = "-".repeat(Arrays.stream(w).sum() + 8) + "\n";
    for (int r = 0; r < cells.size(); r++) {
      String[] c = cells.get(r);
      sb.append(String.format("%-" + w[0] + "s  %-" + w[1] + "s  %-" + w[2] + "s  %" + w[3] + "s  %" + w[4] + "s%n",
          (Object[]) c));
      if (r == 0) {
        sb.append(rule);
      }
    }
    sb.append(rule);
    sb.append(String.format("Total params:     %,d%n", total));
    sb.append(String.format("Trainable params: %,d%n", trainable));
    sb.append(String.format("Frozen params:    %,d%n", total - trainable));
    return sb.toString();
  }
}
