package io.graft.spark.train;

import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The driver's checkpoint inside an epoch, one safetensors file written atomically ({@code Safetensors.write} goes
 * through {@code AtomicFiles}: temporary file, fsync, rename): every replica's {@link ReplicaState} after
 * {@code step} steps of {@code epoch}. Replica 0's tensors are stored whole ({@code replica0/...}); another
 * replica's only where they differ from replica 0's ({@code replica<k>/...}: under DDP only BatchNorm's running
 * statistics), so a checkpoint costs about one model and optimizer state, not one per replica.
 */
public final class StepCheckpoint {
  private StepCheckpoint() {}

  /** A checkpoint's contents: the epoch (0-based), the steps of it done, and each replica's state. */
  public record Saved(int epoch, int step, List<byte[]> states) {}

  /** Writes {@code states} (one per replica, rank order) after {@code step} steps of {@code epoch} to {@code path}. */
  public static void write(Path path, int epoch, int step, List<byte[]> states) {
    StateDict all = new StateDict();
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("graft.spark.checkpoint", "1");
    meta.put("epoch", String.valueOf(epoch));
    meta.put("step", String.valueOf(step));
    meta.put("replicas", String.valueOf(states.size()));
    StateDict first = null;
    for (int r = 0; r < states.size(); r++) {
      Safetensors.File f = Safetensors.open(states.get(r), "replica state");
      StateDict t = f.tensors();
      for (Map.Entry<String, Tensor> e : t) {
        if (first == null || !Arrays.equals(first.get(e.getKey()).data().data().asBytes(),
            e.getValue().data().data().asBytes())) {
          all.put("replica" + r + "/" + e.getKey(), e.getValue());
        }
      }
      if (first == null) {
        first = t;
      }
      final int rank = r;
      f.metadata().forEach((k, v) -> meta.put("replica" + rank + "." + k, v));
    }
    Safetensors.write(path, all, meta);
  }

  /** Reads a checkpoint written by {@link #write}; throws {@link GraftException} naming the file if it is not one. */
  public static Saved read(Path path) {
    Safetensors.File f = Safetensors.open(path);
    Map<String, String> meta = f.metadata();
    if (!"1".equals(meta.get("graft.spark.checkpoint"))) {
      throw new GraftException(path + ": not a graft-spark step checkpoint (no graft.spark.checkpoint metadata)");
    }
    int epoch = number(meta, "epoch", path);
    int step = number(meta, "step", path);
    int replicas = number(meta, "replicas", path);
    if (replicas < 1 || replicas > 65_536) {
      throw new GraftException(path + ": field 'replicas' = " + replicas + " is out of range [1, 65536]");
    }
    StateDict all = f.tensors();
    StateDict first = all.withPrefixStripped("replica0/");
    List<byte[]> states = new ArrayList<>();
    for (int r = 0; r < replicas; r++) {
      StateDict mine = new StateDict();
      StateDict own = all.withPrefixStripped("replica" + r + "/");
      for (Map.Entry<String, Tensor> e : first) {
        Tensor t = own.get(e.getKey());
        mine.put(e.getKey(), t != null ? t : e.getValue());
      }
      Map<String, String> m = new LinkedHashMap<>();
      String p = "replica" + r + ".";
      meta.forEach((k, v) -> {
        if (k.startsWith(p)) {
          m.put(k.substring(p.length()), v);
        }
      });
      if (m.get("optimizer") == null) {
        throw new GraftException(path + ": replica " + r + " has no optimizer metadata");
      }
      states.add(ReplicaState.bytes(mine, m));
    }
    return new Saved(epoch, step, states);
  }

  private static int number(Map<String, String> meta, String key, Path path) {
    String s = meta.get(key);
    try {
      int v = Integer.parseInt(s == null ? "" : s.trim());
      if (v < 0) {
        throw new NumberFormatException();
      }
      return v;
    } catch (NumberFormatException e) {
      throw new GraftException(path + ": field '" + key + "' must be a non-negative integer, got " + s);
    }
  }
}
