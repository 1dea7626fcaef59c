package io.graft.zoo.onnx.export;

import io.graft.core.GraftException;
import io.graft.core.ShapeException;
import io.graft.layers.Module;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * One export in progress: the graph being built and the emitters by module type. {@link #emit} finds the emitter
 * for a module's exact class and refuses a module without one, naming its path and type.
 */
public final class Emission {
  private final ExportGraph graph;
  private final Map<Class<?>, Emitter<?>> emitters;

  Emission(ExportGraph graph, Map<Class<?>, Emitter<?>> emitters) {
    this.graph = graph;
    this.emitters = emitters;
  }

  /** The ONNX graph being built, to which emitters add nodes and initializers. */
  public ExportGraph graph() {
    return graph;
  }

  /** Emits {@code module} (at dotted {@code path}, "" for the root) on {@code input}; returns its output's name. */
  @SuppressWarnings("unchecked")
  public String emit(String path, Module module, String input) {
    Emitter<Module> em = (Emitter<Module>) emitters.get(module.getClass());
    if (em == null) {
      throw new GraftException("export: no ONNX emitter for module '" + (path.isEmpty() ? "<root>" : path) + "' ("
          + module.typeName() + "); supported: " + supported());
    }
    return em.emit(this, path, module, input);
  }

  /** Emits the child {@code name} of the module at {@code path}; a missing child is an error naming both. */
  public String child(String path, Module parent, String name, String input) {
    Module c = parent.namedChildren().get(name);
    if (c == null) {
      throw new GraftException("export: module '" + (path.isEmpty() ? "<root>" : path) + "' (" + parent.typeName()
          + ") has no child '" + name + "'; its children: " + parent.namedChildren().keySet());
    }
    return emit(join(path, name), c, input);
  }

  /** {@code path.name}, or {@code name} at the root. */
  public static String join(String path, String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  /**
   * {@code x.flatten(1, -1)}: ONNX Flatten(axis=1). Flattening spatial positions ties the graph to the example
   * input's height and width, unless {@code x} has the same shape for every input size.
   */
  public String flatten(String path, String x) {
    long[] s = graph.shape(x);
    long n = 1;
    for (int k = 1; k < s.length; k++) {
      n = Math.multiplyExact(n, s[k]);
    }
    if (!graph.isSizeIndependent(x) && s.length > 2) {
      graph.fixSpatialSize();
    }
    String out = graph.node("Flatten", join(path, "flatten"), new long[] {s[0], n}, List.of(x), ExportGraph.i("axis",
        1));
    graph.markSizeIndependent(out);
    return out;
  }

  /** {@code a + b} of equal shapes (a residual connection). */
  public String add(String path, String a, String b) {
    long[] sa = graph.shape(a);
    long[] sb = graph.shape(b);
    if (!Arrays.equals(sa, sb)) {
      throw ShapeException.of("export " + path, "residual shapes differ", sa, sb);
    }
    return graph.node("Add", join(path, "add"), sa, List.of(a, b));
  }

  private String supported() {
    return emitters.keySet().stream().map(Class::getSimpleName).sorted().toList().toString();
  }
}
