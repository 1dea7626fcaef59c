package io.graft.finetune.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.CrashPoint;
import io.graft.core.io.JsonFields;
import io.graft.core.io.Safetensors;
import io.graft.core.random.Rng;
import io.graft.layers.Dropout;
import io.graft.layers.Module;
import io.graft.optim.Optimizer;
import io.graft.optim.OptimizerState;
import io.graft.optim.scheduler.Scheduler;
import java.nio.file.Path;
import java.util.ArrayList;
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
  public record Restored(int epoch, TrainerState trainer) {}

  /**
   * Writes a checkpoint atomically to {@code path}: the model's state dict, the optimizer's state, the scheduler's
   * ({@code sched} may be null), {@code epoch} (epochs done), the trainer's state and the best weights ({@code best}
   * may be null). Throws {@link GraftException} if the state cannot be encoded or the file cannot be written; the
   * previous checkpoint then stays intact.
   */
  public static void save(Path path, Module model, Optimizer opt, Scheduler sched, int epoch,
      TrainerState trainerState, StateDict best) {
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
      meta.put("trainer", JSON.writeValueAsString(trainerState.toJson()));
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
    // every field is parsed and checked before anything is loaded: a hand-edited or foreign file is refused with
    // the field named, and a number never reaches a loop bound unchecked
    String where = path.toString();
    int epoch = (int) epochOf(meta.get("epoch"), where);
    TrainerState trainer = TrainerState.fromJson(json(meta, "trainer", where), epoch, where);
    String optimizer = JsonFields.string(meta, "optimizer", where);
    List<?> groupList = JsonFields.list(json(meta, "optimizer.groups", where), "optimizer.groups", where);
    List<Map<String, Object>> groups = new ArrayList<>();
    for (int i = 0; i < groupList.size(); i++) {
      groups.add(JsonFields.map(groupList.get(i), "optimizer.groups[" + i + "]", where));
    }
    Map<String, Object> schedState = null;
    if (sched != null) {
      if (meta.get("scheduler") == null) {
        throw new GraftException(path + ": the checkpoint has no scheduler state but a scheduler was given");
      }
      schedState = JsonFields.map(json(meta, "scheduler", where), "scheduler", where);
    }
    Map<String, Object> rng = JsonFields.map(json(meta, "rng", where), "rng", where);
    Map<Dropout, Rng.State> rngStates = rngStatesOf(model, rng, where);

    model.loadStateDict(weights, true);
    try {
      opt.loadStateDict(new OptimizerState(optimizer, optim, groups));
      if (sched != null) {
        sched.loadStateDict(schedState);
      }
    } catch (GraftException e) {
      throw new GraftException(where + ": " + e.getMessage(), e);
    }
    rngStates.forEach((d, st) -> d.rng().restore(st));
    return new Restored(epoch, trainer);
  }

  /**
   * The epoch a checkpoint was taken after: a decimal integer in {@code [0, MAX_EPOCH]} (it becomes the loop's
   * start, so a wrapped or negative value would train for 2^31 epochs, or silently for more than asked).
   */
  private static long epochOf(String s, String where) {
    if (s == null) {
      throw new GraftException(where + ": field 'epoch' is missing");
    }
    long e;
    try {
      e = Long.parseLong(s.trim());
    } catch (NumberFormatException x) {
      throw new GraftException(where + ": field 'epoch' must be an integer, got \"" + clip(s) + "\"");
    }
    if (e < 0 || e > MAX_EPOCH) {
      throw new GraftException(where + ": field 'epoch' = " + e + " is out of range [0, " + MAX_EPOCH + "]");
    }
    return e;
  }

  /** The highest epoch index a checkpoint may record (a million epochs; a real run is far below). */
  public static final int MAX_EPOCH = 1_000_000;

  private static Object json(Map<String, String> meta, String key, String where) {
    String s = meta.get(key);
    if (s == null) {
      throw new GraftException(where + ": field '" + key + "' is missing");
    }
    try {
      return JSON.readValue(s, Object.class);
    } catch (JsonProcessingException e) {
      throw new GraftException(where + ": field '" + key + "' is not valid JSON (" + e.getOriginalMessage() + ")", e);
    }
  }

  private static String clip(String s) {
    return s.length() > 40 ? s.substring(0, 40) + "..." : s;
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

  /** The saved generator state of each dropout module that has one, checked. */
  private static Map<Dropout, Rng.State> rngStatesOf(Module model, Map<String, Object> states, String where) {
    Map<Dropout, Rng.State> out = new java.util.IdentityHashMap<>();
    model.namedModules().forEach((k, m) -> {
      if (m instanceof Dropout d && states.containsKey(k)) {
        List<?> s = JsonFields.list(states.get(k), "rng." + k, where);
        if (s.size() != 3 || !(s.get(0) instanceof String c) || !(s.get(1) instanceof Boolean spare)) {
          throw new GraftException(where + ": field 'rng." + k + "' must be [\"counter\", hasSpare, spare], got " + s);
        }
        long counter;
        try {
          counter = Long.parseLong(c);
        } catch (NumberFormatException e) {
          throw new GraftException(where + ": field 'rng." + k + "' has a counter that is not an integer: " + clip(c));
        }
        out.put(d, new Rng.State(counter, spare, JsonFields.number(s.get(2), "rng." + k + "[2]", false, where)));
      }
    });
    return out;
  }

  /** A detached copy of a module's state (for keep-best). */
  static StateDict copy(StateDict sd) {
    StateDict out = new StateDict();
    sd.forEach(e -> out.put(e.getKey(), Tensor.of(e.getValue().data().dup())));
    return out;
  }
}
