package io.graft.spark.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.core.random.Rng;
import io.graft.layers.Dropout;
import io.graft.layers.Module;
import io.graft.optim.Optimizer;
import io.graft.optim.OptimizerState;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything a replica's training depends on, as one in-memory safetensors image: the model's state dict
 * ({@code model/<key>}: parameters and buffers), the optimizer's state ({@code optim/<param>/<buffer>}, with its
 * groups' options, learning rates included, in the metadata) and each dropout module's generator state. This is what
 * travels between the driver and the replicas and what the driver's step checkpoint holds per replica.
 */
public final class ReplicaState {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ReplicaState() {}

  /** The state of {@code model} and {@code optimizer} as bytes. */
  public static byte[] encode(Module model, Optimizer optimizer) {
    return encode(of(model, optimizer));
  }

  /** The tensors and metadata of {@code model} and {@code optimizer}'s state (copies of nothing: views). */
  static Safetensors.File of(Module model, Optimizer optimizer) {
    StateDict all = new StateDict();
    model.stateDict().forEach(e -> all.put("model/" + e.getKey(), e.getValue()));
    OptimizerState os = optimizer.stateDict();
    os.tensors().forEach(e -> all.put("optim/" + e.getKey(), e.getValue()));
    Map<String, String> meta = new LinkedHashMap<>();
    try {
      meta.put("optimizer", os.optimizer());
      meta.put("optimizer.groups", JSON.writeValueAsString(os.groups()));
      Map<String, List<Object>> rng = new LinkedHashMap<>();
      model.namedModules().forEach((k, m) -> {
        if (m instanceof Dropout d) {
          Rng.State s = d.rng().state();
          rng.put(k, List.of(String.valueOf(s.counter()), s.hasSpare(), s.spare()));
        }
      });
      meta.put("rng", JSON.writeValueAsString(rng));
    } catch (JsonProcessingException e) {
      throw new GraftException("replica state: cannot encode the optimizer's groups: " + e.getMessage(), e);
    }
    return Safetensors.open(bytes(all, meta), "replica state");
  }

  /** {@code tensors} and {@code meta} as one safetensors image. */
  static byte[] bytes(StateDict tensors, Map<String, String> meta) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      Safetensors.write(out, tensors, meta);
    } catch (IOException e) {
      throw new GraftException("replica state: cannot encode: " + e.getMessage(), e);
    }
    return out.toByteArray();
  }

  /** A parsed state. */
  static byte[] encode(Safetensors.File f) {
    return bytes(f.tensors(), f.metadata());
  }

  /** Loads {@code state} (from {@link #encode}) into a replica built like the one it came from. */
  public static void load(byte[] state, Module model, Optimizer optimizer) {
    Safetensors.File f = Safetensors.open(state, "replica state");
    StateDict weights = new StateDict();
    StateDict optim = new StateDict();
    f.tensors().forEach(e -> {
      if (e.getKey().startsWith("model/")) {
        weights.put(e.getKey().substring(6), e.getValue());
      } else if (e.getKey().startsWith("optim/")) {
        optim.put(e.getKey().substring(6), e.getValue());
      }
    });
    Map<String, String> meta = f.metadata();
    List<Map<String, Object>> groups;
    Map<String, List<Object>> rng;
    try {
      groups = JSON.readValue(meta.get("optimizer.groups"), new TypeReference<List<Map<String, Object>>>() {});
      rng = JSON.readValue(meta.get("rng"), new TypeReference<Map<String, List<Object>>>() {});
    } catch (JsonProcessingException | IllegalArgumentException e) {
      throw new GraftException("replica state: bad optimizer groups or rng metadata: " + e.getMessage(), e);
    }
    model.loadStateDict(weights, true);
    optimizer.loadStateDict(new OptimizerState(meta.get("optimizer"), optim, new ArrayList<>(groups)));
    model.namedModules().forEach((k, m) -> {
      if (m instanceof Dropout d && rng.containsKey(k)) {
        List<Object> s = rng.get(k);
        d.rng().restore(new Rng.State(Long.parseLong((String) s.get(0)), (Boolean) s.get(1),
            ((Number) s.get(2)).doubleValue()));
      }
    });
  }

  /**
   * The replicas' states merged into one: a tensor equal (bit for bit) on every replica is kept as it is, one that
   * differs is averaged (summed in rank order, divided by the number of replicas; an integer one must not differ).
   * In DDP only BatchNorm's running statistics differ at an epoch's end; under local SGD also weights and optimizer
   * buffers. Metadata (optimizer groups, generators) is rank 0's.
   */
  public static byte[] average(List<byte[]> states) {
    List<Safetensors.File> fs = new ArrayList<>();
    List<StateDict> ts = new ArrayList<>();
    for (byte[] s : states) {
      Safetensors.File f = Safetensors.open(s, "replica state");
      fs.add(f);
      ts.add(f.tensors());
    }
    StateDict out = new StateDict();
    for (Map.Entry<String, Tensor> e : ts.get(0)) {
      Tensor t = e.getValue();
      byte[] mine = t.data().data().asBytes();
      boolean same = true;
      for (int r = 1; r < ts.size() && same; r++) {
        Tensor o = ts.get(r).get(e.getKey());
        if (o == null) {
          throw new GraftException("replica state: replica " + r + " has no tensor '" + e.getKey() + "'");
        }
        same = java.util.Arrays.equals(o.data().data().asBytes(), mine);
      }
      if (same) {
        out.put(e.getKey(), t);
        continue;
      }
      if (!t.dtype().isFPType()) {
        throw new GraftException("replica state: integer tensor '" + e.getKey() + "' differs between replicas");
      }
      org.nd4j.linalg.api.ndarray.INDArray sum = t.data().dup();
      for (int r = 1; r < ts.size(); r++) {
        sum.addi(ts.get(r).get(e.getKey()).data());
      }
      out.put(e.getKey(), Tensor.of(sum.divi(ts.size())));
    }
    return bytes(out, fs.get(0).metadata());
  }
}
