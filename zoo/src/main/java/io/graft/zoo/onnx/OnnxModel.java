package io.graft.zoo.onnx;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.layers.Module;
import io.graft.zoo.onnx.proto.Onnx;
import io.graft.zoo.weights.OnnxWeights;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.nd4j.linalg.api.buffer.DataBuffer;

/**
 * An ONNX graph imported as a trainable {@link Module}.
 *
 * <p>Floating-point initializers become {@link Parameter}s named by their ONNX names, split at dots into child
 * modules, so a torchvision export's {@code layer4.1.conv2.weight} is frozen with {@code freeze("layer4.*")} and
 * appears under that key in {@link #stateDict()}; a fused export's {@code onnx::Conv_193} sits at the top level.
 * Integer initializers are constants. Nodes run in file order (ONNX requires topological order) as Graft ops, so
 * {@code forward} records the autograd graph; shapes are resolved at run time.
 *
 * <p>Every operator in the file is checked when loading: an unsupported one is an error listing all of them.
 * Head replacement: {@link #cut(String)} keeps the subgraph that computes one named tensor (for a classifier, the
 * input of its last {@code Gemm}, {@link #featureTensor()}), to be followed by a new head.
 *
 * <p><b>Memory budget.</b> A graph of a hundred bytes can ask for gigabytes at run time ({@code Expand} or
 * {@code ConstantOfShape} to a billion elements, {@code Pad} or {@code AveragePool} with pads of 2^30). Before
 * each node runs, the bytes it will allocate ({@link OutputBytes}: its outputs and padded copies, computed in
 * Java from its inputs' shapes) plus the bytes of the intermediate tensors still held (node outputs that a later
 * node or the caller needs; graph inputs and initializers do not count) must fit the budget, else the node is
 * refused naming the budget. The default, {@value #DEFAULT_MAX_INTERMEDIATE_BYTES} bytes (1 GiB), holds the
 * live activations of ImageNet-sized CNNs at batch 32 to 64 (ResNet-50 at 224^2, batch 32: about 100 MB per
 * stage-1 activation, a few live at once) while keeping a hostile file far below the memory of a small machine;
 * larger batches raise it with {@link #maxIntermediateBytes(long)} or the system property
 * {@value #MAX_INTERMEDIATE_BYTES_PROPERTY}. In training mode autograd also keeps activations alive for the
 * backward pass; those are not counted here.
 */
public final class OnnxModel extends Module {
  private final String source;
  private final List<OnnxNode> nodes;
  private final List<String> inputNames;
  private final Map<String, long[]> inputShapes;
  private final Map<String, org.nd4j.linalg.api.buffer.DataType> inputTypes = new HashMap<>();
  private final List<String> outputNames;
  private final Map<String, Tensor> initializers;   // name -> Parameter, buffer or constant
  private final Set<String> bufferNames;             // BatchNormalization's running statistics
  private boolean freeBatch;

  /** The system property that sets the default budget for intermediate tensors, in bytes. */
  public static final String MAX_INTERMEDIATE_BYTES_PROPERTY = "graft.onnx.maxIntermediateBytes";

  /** The default budget for intermediate tensors when the property is unset: 1 GiB. */
  public static final long DEFAULT_MAX_INTERMEDIATE_BYTES = 1L << 30;

  private long maxIntermediateBytes = defaultMaxIntermediateBytes();

  private OnnxModel(String source, List<OnnxNode> nodes, List<String> inputNames, Map<String, long[]> inputShapes,
      List<String> outputNames, Map<String, Tensor> initializers, Set<String> bufferNames) {
    this.source = source;
    this.nodes = List.copyOf(nodes);
    this.inputNames = List.copyOf(inputNames);
    this.inputShapes = new HashMap<>(inputShapes);   // null: no declared shape
    this.outputNames = List.copyOf(outputNames);
    this.initializers = initializers;
    this.bufferNames = Set.copyOf(bufferNames);
    for (Map.Entry<String, Tensor> e : initializers.entrySet()) {
      if (e.getValue() instanceof Parameter || bufferNames.contains(e.getKey())) {
        register(e.getKey(), e.getValue());
      }
    }
  }

  /** Inputs that hold a layer's weights: their initializers are trainable whatever their size. */
  private static boolean weightSlot(String op, int slot) {
    return switch (op) {
      case "Conv", "ConvTranspose", "Gemm", "BatchNormalization", "InstanceNormalization" -> slot == 1 || slot == 2;
      case "MatMul" -> slot <= 1;
      case "PRelu" -> slot == 1;
      default -> false;
    };
  }

  /** Reads and checks an ONNX model: every operator must be supported (all unsupported ones are listed). */
  public static OnnxModel load(Path path) {
    try {
      return read(path);
    } catch (GraftException e) {
      throw e;
    } catch (RuntimeException e) {   // a malformed file that slipped past the checks: still a clear refusal
      throw new GraftException(path + ": malformed ONNX model (" + e + ")", e);
    }
  }

  private static OnnxModel read(Path path) {
    String src = path.toString();
    Onnx.ModelProto m = OnnxWeights.model(path);
    int opset = 1;
    for (Onnx.OperatorSetIdProto o : m.getOpsetImportList()) {
      long version = o.getVersion();   // int64 in the file: checked as read, never truncated
      String domain = o.getDomain().isEmpty() ? "ai.onnx (default)" : o.getDomain();
      if (version < 0 || version > Operators.MAX_DEFINED_OPSET) {
        throw new GraftException(src + ": opset " + version + " imported for domain '" + domain + "' is outside "
            + "the versions ONNX defines (0 to " + Operators.MAX_DEFINED_OPSET + ")");
      }
      if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
        if (version < 1) {
          throw new GraftException(src + ": opset " + version + " imported for domain '" + domain + "' is outside "
              + "the versions ONNX defines (the default domain's start at 1)");
        }
        opset = (int) version;
      }
    }
    if (opset > Operators.MAX_OPSET) {
      throw new GraftException(src + ": opset " + opset + " is newer than the newest Graft supports ("
          + Operators.MAX_OPSET + "); re-export with opset_version=" + Operators.MAX_OPSET);
    }
    Onnx.GraphProto g = m.getGraph();
    List<OnnxNode> nodes = new ArrayList<>();
    Set<String> unsupported = new TreeSet<>();
    for (int k = 0; k < g.getNodeCount(); k++) {
      Onnx.NodeProto n = g.getNode(k);
      boolean defaultDomain = n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx");
      if (!defaultDomain || !Operators.supports(n.getOpType())) {
        unsupported.add(defaultDomain ? n.getOpType() : n.getDomain() + "." + n.getOpType());
      }
      nodes.add(new OnnxNode(n, k, opset, src));
    }
    if (!unsupported.isEmpty()) {
      throw new GraftException(src + ": unsupported ONNX operators " + unsupported + " (opset " + opset
          + "); supported: " + Operators.names());
    }
    Path dir = path.toAbsolutePath().getParent();
    // float initializers are trainable Parameters, except BatchNormalization's running statistics (buffers, in
    // the state dict) and single numbers that no layer uses as weights (exponents, epsilons, scales: constants)
    Set<String> weights = new HashSet<>();
    Set<String> buffers = new HashSet<>();
    for (OnnxNode n : nodes) {
      for (int k = 0; k < n.inputs().size(); k++) {
        if (weightSlot(n.opType(), k)) {
          weights.add(n.inputs().get(k));
        } else if (n.opType().equals("BatchNormalization") && (k == 3 || k == 4)) {
          buffers.add(n.inputs().get(k));
        }
      }
    }
    Map<String, Tensor> inits = new LinkedHashMap<>();
    Set<String> bufferNames = new HashSet<>();
    for (Onnx.TensorProto t : g.getInitializerList()) {
      Tensor v = OnnxWeights.tensor(t, dir, src);
      String name = t.getName();
      if (!v.dtype().isFPType() || (v.numel() == 1 && !weights.contains(name))) {
        inits.put(name, v);
      } else if (buffers.contains(name) && !weights.contains(name)) {
        inits.put(name, v);
        bufferNames.add(name);
      } else {
        inits.put(name, new Parameter(v.data()));
      }
    }
    List<String> inputs = new ArrayList<>();
    Map<String, long[]> shapes = new HashMap<>();
    for (Onnx.ValueInfoProto v : g.getInputList()) {
      if (inits.containsKey(v.getName())) {
        continue;   // IR < 4 lists initializers among the inputs
      }
      checkTensorType(src, "input", v);
      inputs.add(v.getName());
      shapes.put(v.getName(), declaredShape(src, v));
    }
    List<String> outputs = new ArrayList<>();
    for (Onnx.ValueInfoProto v : g.getOutputList()) {
      checkTensorType(src, "output", v);
      outputs.add(v.getName());
    }
    if (outputs.isEmpty()) {
      throw new GraftException(src + ": the graph declares no outputs");
    }
    checkWiring(src, nodes, inputs, inits.keySet(), outputs);
    OnnxModel model = new OnnxModel(src, nodes, inputs, shapes, outputs, inits, bufferNames);
    for (Onnx.ValueInfoProto v : g.getInputList()) {
      if (inputs.contains(v.getName()) && v.hasType() && v.getType().hasTensorType()
          && v.getType().getTensorType().getElemType() != 0) {
        org.nd4j.linalg.api.buffer.DataType t = Operators.tensorType(v.getType().getTensorType().getElemType());
        if (t != null) {
          model.inputTypes.put(v.getName(), t);
        }
      }
    }
    return model;
  }

  /** Graph inputs and outputs must be numeric tensors (no sequences, maps, optionals or strings). */
  private static void checkTensorType(String src, String what, Onnx.ValueInfoProto v) {
    if (!v.hasType()) {
      return;
    }
    Onnx.TypeProto t = v.getType();
    if (!t.hasTensorType()) {
      throw new GraftException(src + ": graph " + what + " '" + v.getName() + "' is a " + t.getValueCase()
          + ", not a tensor; Graft imports graphs of tensors only");
    }
    if (t.getTensorType().getElemType() == Onnx.TensorProto.DataType.STRING_VALUE) {
      throw new GraftException(src + ": graph " + what + " '" + v.getName() + "' is a STRING tensor; Graft imports "
          + "numeric tensors only");
    }
  }

  /** Static dimensions of a graph input; -1 for a symbolic or unknown one; null when no shape is declared. */
  private static long[] declaredShape(String src, Onnx.ValueInfoProto v) {
    if (!v.hasType() || !v.getType().hasTensorType() || !v.getType().getTensorType().hasShape()) {
      return null;
    }
    Onnx.TensorShapeProto s = v.getType().getTensorType().getShape();
    if (s.getDimCount() > Shapes.MAX_RANK) {
      throw new GraftException(src + ": graph input '" + v.getName() + "' declares rank " + s.getDimCount()
          + ", more than the maximum of " + Shapes.MAX_RANK + " dimensions");
    }
    long[] dims = new long[s.getDimCount()];
    for (int k = 0; k < dims.length; k++) {
      Onnx.TensorShapeProto.Dimension d = s.getDim(k);
      dims[k] = d.hasDimValue() && d.getDimValue() > 0 ? d.getDimValue() : -1;
    }
    return dims;
  }

  /** Every node input must be a graph input, an initializer or an earlier node's output. */
  private static void checkWiring(String src, List<OnnxNode> nodes, List<String> inputs, Set<String> inits,
      List<String> outputs) {
    Set<String> known = new HashSet<>(inputs);
    known.addAll(inits);
    for (OnnxNode n : nodes) {
      for (String in : n.inputs()) {
        if (!in.isEmpty() && !known.contains(in)) {
          throw n.error("input '" + in + "' is neither a graph input, an initializer nor an earlier node's output "
              + "(the graph is not in topological order or is incomplete)");
        }
      }
      for (String out : n.outputs()) {
        if (!out.isEmpty()) {
          known.add(out);
        }
      }
    }
    for (String out : outputs) {
      if (!known.contains(out)) {
        throw new GraftException(src + ": graph output '" + out + "' is computed by no node");
      }
    }
  }

  // ---------------------------------------------------------------- parameters as a module tree

  private void register(String name, Tensor t) {
    String[] parts = name.split("\\.", -1);
    boolean dotted = parts.length > 1;
    for (String part : parts) {
      dotted &= !part.isEmpty();
    }
    if (dotted) {
      try {
        Module scope = this;
        for (int k = 0; k < parts.length - 1; k++) {
          Module child = scope.namedChildren().get(parts[k]);
          if (child == null) {
            child = scope == this ? registerModule(parts[k], new Scope()) : ((Scope) scope).child(parts[k]);
          }
          if (!(child instanceof Scope)) {
            throw new GraftException("not a scope");
          }
          scope = child;
        }
        if (scope == this) {
          hold(parts[parts.length - 1], t);
        } else {
          ((Scope) scope).hold(parts[parts.length - 1], t);
        }
        return;
      } catch (GraftException clash) {
        // a name that is both a parameter and a prefix of others: keep it flat below
      }
    }
    String flat = name.replace('.', '_');
    while (namedChildren().containsKey(flat) || namedBuffers().containsKey(flat) || hasOwnParameter(flat)) {
      flat = flat + "_";
    }
    hold(flat, t);
  }

  private void hold(String name, Tensor t) {
    if (t instanceof Parameter p) {
      registerParameter(name, p);
    } else {
      registerBuffer(name, t);
    }
  }

  private boolean hasOwnParameter(String name) {
    return namedParameters().containsKey(name);
  }

  /** A module that only holds the parameters under one dotted prefix of an imported graph. */
  static final class Scope extends Module {
    Scope child(String name) {
      return registerModule(name, new Scope());
    }

    void hold(String name, Tensor t) {
      if (t instanceof Parameter p) {
        registerParameter(name, p);
      } else {
        registerBuffer(name, t);
      }
    }

    @Override
    public Tensor forward(Tensor x) {
      throw new GraftException("a parameter scope of an imported ONNX graph has no forward of its own; call the "
          + "OnnxModel");
    }

    @Override
    public String typeName() {
      return "OnnxScope";
    }
  }

  // ---------------------------------------------------------------- running

  /**
   * The graph's input names in declaration order, initializers excluded: what {@code forward(Tensor...)} takes, in this
   * order.
   */
  public List<String> inputNames() {
    return inputNames;
  }

  /** The graph's output names in declaration order. */
  public List<String> outputNames() {
    return outputNames;
  }

  /** The declared shape of a graph input (-1 for a free dimension), or null when the file declares none. */
  public long[] inputShape(String name) {
    long[] s = inputShapes.get(name);
    return s == null ? null : s.clone();
  }

  /** The declared element type of a graph input, or null when the file declares none. */
  public org.nd4j.linalg.api.buffer.DataType inputType(String name) {
    return inputTypes.get(name);
  }

  /** The file the graph came from. */
  public String source() {
    return source;
  }

  /**
   * Whether some node mixes the rows of a batch (a BatchNormalization that normalises with batch statistics, as an
   * export in training mode does), so that rows added to a batch would change the other rows' outputs.
   */
  public boolean mixesBatchRows() {
    return nodes.stream().anyMatch(n -> n.opType().equals("BatchNormalization") && NnOperators.batchStatistics(n));
  }

  /** Operator types used by the graph, with counts, in first-use order. */
  public Map<String, Integer> operatorCounts() {
    Map<String, Integer> c = new LinkedHashMap<>();
    for (OnnxNode n : nodes) {
      c.merge(n.opType(), 1, Integer::sum);
    }
    return c;
  }

  /** The first output for a graph with one input. */
  @Override
  public Tensor forward(Tensor x) {
    if (inputNames.size() != 1) {
      throw new GraftException(source + ": the graph has " + inputNames.size() + " inputs " + inputNames
          + "; call forward(Tensor...) or run(Map)");
    }
    return forward(new Tensor[] {x})[0];
  }

  /** All outputs, given the inputs in graph order. */
  public Tensor[] forward(Tensor... inputs) {
    if (inputs.length != inputNames.size()) {
      throw new GraftException(source + ": the graph takes " + inputNames.size() + " inputs " + inputNames + ", got "
          + inputs.length);
    }
    Map<String, Tensor> in = new LinkedHashMap<>();
    for (int k = 0; k < inputs.length; k++) {
      in.put(inputNames.get(k), inputs[k]);
    }
    Map<String, Tensor> out = run(in, outputNames);
    Tensor[] r = new Tensor[outputNames.size()];
    for (int k = 0; k < r.length; k++) {
      r[k] = out.get(outputNames.get(k));
    }
    return r;
  }

  /** Runs the nodes needed for {@code wanted} (graph outputs or any intermediate tensor names). */
  public Map<String, Tensor> run(Map<String, Tensor> inputs, List<String> wanted) {
    Map<String, Tensor> env = new HashMap<>(initializers);
    for (String name : inputNames) {
      Tensor x = inputs.get(name);
      if (x == null) {
        throw new GraftException(source + ": graph input '" + name + "' not given (inputs: " + inputNames + ")");
      }
      checkInput(name, x);
      env.put(name, x);
    }
    List<OnnxNode> plan = plan(wanted);
    Map<String, Integer> lastUse = new HashMap<>();
    for (int k = 0; k < plan.size(); k++) {
      for (String in : plan.get(k).inputs()) {
        lastUse.put(in, k);
      }
    }
    Set<String> keep = new HashSet<>(wanted);
    keep.addAll(initializers.keySet());
    // buffers that exist before the graph runs: tensors on them (inputs, initializers, views of them) are free
    Set<DataBuffer> held = Collections.newSetFromMap(new IdentityHashMap<>());
    for (Tensor t : env.values()) {
      held.add(root(t));
    }
    for (int k = 0; k < plan.size(); k++) {
      OnnxNode n = plan.get(k);
      Tensor[] args = new Tensor[n.inputs().size()];
      for (int a = 0; a < args.length; a++) {
        String name = n.inputs().get(a);
        args[a] = name.isEmpty() ? null : env.get(name);
      }
      Tensor[] outs;
      try {
        checkBudget(n, args, env, held);
        outs = Operators.get(n.opType()).run(n, args, isTraining());
      } catch (GraftException e) {
        if (e.getMessage() != null && e.getMessage().contains("node '" + n.name() + "'")) {
          throw e;
        }
        throw n.error(e.getMessage() + describe(args));
      } catch (RuntimeException e) {   // a failure below Graft's checks: still name the node and its inputs
        GraftException g = n.error("failed: " + e + describe(args));
        g.initCause(e);
        throw g;
      }
      for (int o = 0; o < n.outputs().size() && o < outs.length; o++) {
        if (!n.outputs().get(o).isEmpty() && outs[o] != null) {
          env.put(n.outputs().get(o), outs[o]);
        }
      }
      for (String in : n.inputs()) {   // drop what no later node reads: its graph can be freed sooner
        if (lastUse.getOrDefault(in, -1) == k && !keep.contains(in)) {
          env.remove(in);
        }
      }
    }
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (String w : wanted) {
      Tensor t = env.get(w);
      if (t == null) {
        throw new GraftException(source + ": no tensor '" + w + "' was computed");
      }
      out.put(w, t);
    }
    return out;
  }

  /**
   * Refuses {@code n} when what it will allocate, plus the intermediate tensors held in {@code env} (each buffer
   * once, those in {@code held} not at all), exceeds the budget: the one check before every node.
   */
  private void checkBudget(OnnxNode n, Tensor[] args, Map<String, Tensor> env, Set<DataBuffer> held) {
    long need = OutputBytes.of(n, args);
    if (need == 0) {
      return;
    }
    long live = 0;
    Set<DataBuffer> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    for (Tensor t : env.values()) {
      DataBuffer b = root(t);
      if (b != null && !held.contains(b) && seen.add(b)) {
        live = OutputBytes.plus(live, OutputBytes.times(b.length(), b.getElementSize()));
      }
    }
    if (need > maxIntermediateBytes || live > maxIntermediateBytes - need) {
      throw n.error("would allocate " + (need == Long.MAX_VALUE ? "more than 2^63" : need) + " bytes" + (live > 0 ? " with " + live + " bytes of intermediate "
          + "tensors held" : "") + ", over the budget of " + maxIntermediateBytes + " bytes for intermediate "
          + "tensors (OnnxModel.maxIntermediateBytes, system property " + MAX_INTERMEDIATE_BYTES_PROPERTY + ")"
          + describe(args));
    }
  }

  /** The buffer that owns a tensor's memory (a view's parent buffer), or null for an empty tensor. */
  private static DataBuffer root(Tensor t) {
    DataBuffer b = t.data().isEmpty() ? null : t.data().data();
    while (b != null && b.originalDataBuffer() != null && b.originalDataBuffer() != b) {
      b = b.originalDataBuffer();
    }
    return b;
  }

  private static String describe(Tensor[] args) {
    StringBuilder sb = new StringBuilder(" (input shapes");
    for (Tensor t : args) {
      sb.append(' ').append(t == null ? "-" : t.dtype() + Shapes.str(t.shape()));
    }
    return sb.append(')').toString();
  }

  private void checkInput(String name, Tensor x) {
    org.nd4j.linalg.api.buffer.DataType type = inputTypes.get(name);
    if (type != null && type != x.dtype()) {
      throw new GraftException(source + ": input '" + name + "' is " + x.dtype() + ", the graph declares " + type);
    }
    long[] declared = inputShapes.get(name);
    if (declared == null) {
      return;
    }
    long[] s = x.shape();
    boolean ok = s.length == declared.length;
    for (int k = 0; ok && k < s.length; k++) {
      ok = declared[k] < 0 || declared[k] == s[k] || (k == 0 && freeBatch);
    }
    if (!ok) {
      throw new GraftException(source + ": input '" + name + "' has shape " + Shapes.str(s) + ", the graph declares "
          + Shapes.str(declared) + " (-1: any size)");
    }
  }

  /** The nodes that {@code wanted} depends on, in file order. */
  private List<OnnxNode> plan(List<String> wanted) {
    Map<String, OnnxNode> producer = new HashMap<>();
    for (OnnxNode n : nodes) {
      for (String o : n.outputs()) {
        producer.put(o, n);
      }
    }
    Set<OnnxNode> needed = Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    Deque<String> todo = new ArrayDeque<>(wanted);
    Set<String> seen = new HashSet<>();
    while (!todo.isEmpty()) {
      String t = todo.pop();
      if (!seen.add(t)) {
        continue;
      }
      OnnxNode n = producer.get(t);
      if (n == null) {
        if (!initializers.containsKey(t) && !inputNames.contains(t)) {
          throw new GraftException(source + ": no node computes tensor '" + t + "'");
        }
        continue;
      }
      if (needed.add(n)) {
        for (String in : n.inputs()) {
          if (!in.isEmpty()) {
            todo.push(in);
          }
        }
      }
    }
    List<OnnxNode> plan = new ArrayList<>();
    for (OnnxNode n : nodes) {
      if (needed.contains(n)) {
        plan.add(n);
      }
    }
    return plan;
  }

  // ---------------------------------------------------------------- head replacement

  /**
   * The subgraph that computes {@code tensor}, as a model whose one output it is; it shares this model's
   * parameters (same objects, same names) and drops those it does not use.
   */
  public OnnxModel cut(String tensor) {
    List<OnnxNode> plan = plan(List.of(tensor));
    Set<String> used = new LinkedHashSet<>();
    for (OnnxNode n : plan) {
      used.addAll(n.inputs());
    }
    Map<String, Tensor> inits = new LinkedHashMap<>();
    for (Map.Entry<String, Tensor> e : initializers.entrySet()) {
      if (used.contains(e.getKey())) {
        inits.put(e.getKey(), e.getValue());
      }
    }
    List<String> inputs = new ArrayList<>();
    for (String in : inputNames) {
      if (used.contains(in) || in.equals(tensor)) {
        inputs.add(in);
      }
    }
    Map<String, long[]> shapes = new HashMap<>();
    for (String in : inputs) {
      if (inputShapes.containsKey(in)) {
        shapes.put(in, inputShapes.get(in));
      }
    }
    Set<String> keptBuffers = new HashSet<>(bufferNames);
    keptBuffers.retainAll(inits.keySet());
    OnnxModel m = new OnnxModel(source, plan, inputs, shapes, List.of(tensor), inits, keptBuffers);
    for (String in : inputs) {
      if (inputTypes.containsKey(in)) {
        m.inputTypes.put(in, inputTypes.get(in));
      }
    }
    m.train(isTraining());
    m.maxIntermediateBytes = maxIntermediateBytes;
    return m;
  }

  /**
   * Accepts any batch size although the file declares a fixed one (PyTorch exports without dynamic axes fix the
   * batch they were traced with); a graph that hard-codes it in a Reshape still fails there, naming the node.
   */
  public OnnxModel freeBatch() {
    freeBatch = true;
    return this;
  }

  /** The budget for intermediate tensors from the system property, else {@link #DEFAULT_MAX_INTERMEDIATE_BYTES}. */
  static long defaultMaxIntermediateBytes() {
    String v = System.getProperty(MAX_INTERMEDIATE_BYTES_PROPERTY);
    if (v == null || v.isBlank()) {
      return DEFAULT_MAX_INTERMEDIATE_BYTES;
    }
    try {
      long b = Long.parseLong(v.trim());
      if (b > 0) {
        return b;
      }
    } catch (NumberFormatException e) {
      // refused below
    }
    throw new GraftException("system property " + MAX_INTERMEDIATE_BYTES_PROPERTY + "='" + v + "' must be a "
        + "positive number of bytes");
  }

  /**
   * Sets the budget for intermediate tensors (see the class comment): a node whose outputs would push the bytes of
   * live intermediate tensors above it is refused before it allocates.
   */
  public OnnxModel maxIntermediateBytes(long bytes) {
    if (bytes <= 0) {
      throw new GraftException(source + ": the intermediate-tensor budget must be positive, got " + bytes);
    }
    maxIntermediateBytes = bytes;
    return this;
  }

  /** The budget for intermediate tensors, in bytes. */
  public long maxIntermediateBytes() {
    return maxIntermediateBytes;
  }

  /** The last Gemm node, or null. */
  OnnxNode lastGemm() {
    for (int k = nodes.size() - 1; k >= 0; k--) {
      if (nodes.get(k).opType().equals("Gemm")) {
        return nodes.get(k);
      }
    }
    return null;
  }

  /** An initializer by name (a Parameter for floating point), or null. */
  public Tensor constant(String name) {
    return initializers.get(name);
  }

  /**
   * The tensor a classifier's head reads: the data input of the last {@code Gemm} (or {@code MatMul}) in the
   * graph, e.g. the flattened 512 features of a ResNet-18.
   */
  public String featureTensor() {
    for (int k = nodes.size() - 1; k >= 0; k--) {
      OnnxNode n = nodes.get(k);
      if (n.opType().equals("Gemm") || n.opType().equals("MatMul")) {
        return n.inputs().get(0);
      }
    }
    throw new GraftException(source + ": no Gemm or MatMul node: name the tensor to cut at");
  }

  @Override
  public String typeName() {
    return "OnnxModel";
  }

  @Override
  protected String extraRepr() {
    return source + ", " + nodes.size() + " nodes, inputs " + inputNames + ", outputs " + outputNames;
  }
}
