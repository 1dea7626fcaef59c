package io.graft.finetune.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.CrashPoint;
import io.graft.core.io.Safetensors;
import io.graft.core.random.Rng;
import io.graft.layers.Dropout;
import io.graft.layers.Module;
import io.graft.optim.Optimizer;
import io.graft.optim.OptimizerState;
import io.graft.optim.scheduler.Scheduler;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A training checkpoint in one safetensors file, written atomically (temporary file, fsync, rename): model weights
 * ({@code model/<key>}), optimizer buffers ({@code optim/<param>/<buffer>}), the best weights so far
 * ({@code best/<key>}, optional) and, in the metadata, the epoch, optimizer groups, scheduler state, the dropout
 * generators' states and the trainer's own state as JSON. A crash while writing leaves the previous checkpoint.
 */
public final class Checkpoint {
  static final ObjectMapper JSON = new ObjectMapper();

  private Checkpoint() {}

  /** What a checkpoint restores besides the tensors it loads into the objects. */
  public record Restored(int epoch, Map<String, Object> trainerState) {}

  public static void save(Path path, Module model, Optimizer opt, Scheduler sched, int epoch,
      Map<String, Object> trainerState, StateDict best) {
    StateDict all = new StateDict();
    model.stateDict().forEach(e -> all.put("model/" + e.getKey(), e.getValue()));
    OptimizerState os = opt.stateDict();
    os.tensors().forEach(e -> all.put("optim/" + e.getKey(), e.getValue()));
    if (best != null) {
      best.forEach(e -> all.put("best/" + e.getKey(), e.getValue()));
    }
    Map<String, String> meta = new LinkedHashMap<>();
    try {
      meta.put("graft.checkpoint", "1");
      meta.put("epoch", String.valueOf(epoch));
      meta.put("optimizer", os.optimizer());
      meta.put("optimizer.groups", JSON.writeValueAsString(os.groups()));
      if (sched != null) {
        meta.put("scheduler", JSON.writeValueAsString(sched.stateDict()));
      }
      meta.put("rng", JSON.writeValueAsString(rngStates(model)));
      meta.put("trainer", JSON.writeValueAsString(trainerState));
    } catch (JsonProcessingException e) {
      throw new GraftException("checkpoint: cannot encode state: " + e.getMessage(), e);
    }
    CrashPoint.reach("checkpoint.before-write");
    Safetensors.write(path, all, meta);
    CrashPoint.reach("checkpoint.after-write");
  }

  /** Loads everything into the given (freshly built, same-shaped) objects; checked before anything changes. */
  public static Restored load(Path path, Module model, Optimizer opt, Scheduler sched, StateDict bestOut) {
    Safetensors.File f = Safetensors.open(path);
    Map<String, String> meta = f.metadata();
    if (!"1".equals(meta.get("graft.checkpoint"))) {
      throw new GraftException(path + ": not a Graft training checkpoint (no graft.checkpoint metadata)");
    }
    StateDict all = f.tensors();
    StateDict weights = new StateDict();
    StateDict optim = new StateDict();
    all.forEach(e -> {
      if (e.getKey().startsWith("model/")) {
        weights.put(e.getKey().substring(6), e.getValue());
      } else if (e.getKey().startsWith("optim/")) {
        optim.put(e.getKey().substring(6), e.getValue());
      } else if (e.getKey().startsWith("best/") && bestOut != null) {
        bestOut.put(e.getKey().substring(5), e.getValue());
      }
    });
    try {
      List<Map<String, Object>> groups = JSON.readValue(meta.get("optimizer.groups"), new TypeReference<>() {});
      OptimizerState os = new OptimizerState(meta.get("optimizer"), optim, groups);
      model.loadStateDict(weights, true);
      opt.loadStateDict(os);
      if (sched != null) {
        String s = meta.get("scheduler");
        if (s == null) {
          throw new GraftException(path + ": the checkpoint has no scheduler state but a scheduler was given");
        }
        sched.loadStateDict(JSON.readValue(s, new TypeReference<Map<String, Object>>() {}));
      }
      restoreRng(model, JSON.readValue(meta.get("rng"), new TypeReference<Map<String, List<Object>>>() {}));
      Map<String, Object> trainer = JSON.readValue(meta.get("trainer"), new TypeReference<>() {});
      return new Restored(Integer.parseInt(meta.get("epoch")), trainer);
    } catch (JsonProcessingException | NumberFormatException | NullPointerException e) {
      throw new GraftException(path + ": corrupt checkpoint metadata (" + e.getMessage() + ")", e);
    }
  }

  private static Map<String, List<Object>> rngStates(Module model) {
    Map<String, List<Object>> out = new LinkedHashMap<>();
    model.namedModules().forEach((k, m) -> {
      if (m instanceof Dropout d) {
        Rng.State s = d.rng().state();
        out.put(k, List.of(String.valueOf(s.counter()), s.hasSpare(), s.spare()));
      }
    });
    return out;
  }

  private static void restoreRng(Module model, Map<String, List<Object>> states) {
    model.namedModules().forEach((k, m) -> {
      if (m instanceof Dropout d && states.containsKey(k)) {
        List<Object> s = states.get(k);
        d.rng().restore(new Rng.State(Long.parseLong((String) s.get(0)), (Boolean) s.get(1),
            ((Number) s.get(2)).doubleValue()));
      }
    });
  }

  /** A detached copy of a module's state (for keep-best). */
  static StateDict copy(StateDict sd) {
    StateDict out = new StateDict();
    sd.forEach(e -> out.put(e.getKey(), Tensor.of(e.getValue().data().dup())));
    return out;
  }
}
