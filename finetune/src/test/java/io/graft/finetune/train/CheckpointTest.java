package io.graft.finetune.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.graft.core.GraftException;
import io.graft.core.io.Safetensors;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.recipe.Strategy;
import io.graft.finetune.train.TrainerTest.Setup;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hand-edited checkpoints: every metadata field is checked for presence, type and range before anything is loaded,
 * and a bad one is a {@link GraftException} naming the file and the field (never a stack trace from a cast, and
 * never a loop bound: an epoch of 2^31 - 1 once trained for 2^31 epochs on resume).
 */
class CheckpointTest {
  static final ObjectMapper JSON = new ObjectMapper();
  @TempDir
  static Path tmp;
  static Path good;

  @BeforeAll
  static void twoEpochs() throws Exception {
    TrainerTest.data();
    good = tmp.resolve("good.ckpt");
    Setup s = TrainerTest.setup(Strategy.FULL);
    try (DataLoader tr = TrainerTest.loader(TrainerTest.train, true);
        DataLoader va = TrainerTest.loader(TrainerTest.val, false)) {
      new Trainer(s.model(), s.opt(), null, s.ft().loss(), Trainer.Options.epochs(2).withCheckpoint(good, false))
          .fit(tr, va);
    }
  }

  /** A copy of the good checkpoint with its metadata edited. */
  static Path edited(String name, Consumer<Map<String, String>> edit) {
    Safetensors.File f = Safetensors.open(good);
    Map<String, String> meta = new LinkedHashMap<>(f.metadata());
    edit.accept(meta);
    Path p = tmp.resolve(name + ".ckpt");
    Safetensors.write(p, f.tensors(), meta);
    return p;
  }

  /** Edits the JSON held in one metadata field. */
  static Consumer<Map<String, String>> json(String key, Consumer<ObjectNode> edit) {
    return meta -> {
      try {
        ObjectNode n = (ObjectNode) JSON.readTree(meta.get(key));
        edit.accept(n);
        meta.put(key, JSON.writeValueAsString(n));
      } catch (java.io.IOException e) {
        throw new AssertionError(e);
      }
    };
  }

  static Consumer<Map<String, String>> groups(Consumer<ArrayNode> edit) {
    return meta -> {
      try {
        ArrayNode n = (ArrayNode) JSON.readTree(meta.get("optimizer.groups"));
        edit.accept(n);
        meta.put("optimizer.groups", JSON.writeValueAsString(n));
      } catch (java.io.IOException e) {
        throw new AssertionError(e);
      }
    };
  }

  static void refused(String name, Consumer<Map<String, String>> edit, String... expected) {
    Path p = edited(name, edit);
    Setup fresh = TrainerTest.setup(Strategy.FULL);
    GraftException e = assertThrows(GraftException.class,
        () -> Checkpoint.load(p, fresh.model(), fresh.opt(), null, null), name);
    assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
    for (String s : expected) {
      assertTrue(e.getMessage().contains(s), name + ": " + e.getMessage());
    }
  }

  @Test
  void theUneditedCheckpointLoads() {
    Setup fresh = TrainerTest.setup(Strategy.FULL);
    Checkpoint.Restored r = Checkpoint.load(good, fresh.model(), fresh.opt(), null, null);
    assertEquals(1, r.epoch());
    assertEquals(2, r.trainer().history().size());
  }

  @Test
  void epochsOutOfRangeOrNotIntegersAreRefused() {
    refused("epoch-max", m -> m.put("epoch", "2147483647"), "'epoch' = 2147483647 is out of range");
    refused("epoch-negative", m -> m.put("epoch", "-100"), "'epoch' = -100 is out of range");
    refused("epoch-text", m -> m.put("epoch", "two"), "'epoch' must be an integer");
    refused("epoch-missing", m -> m.remove("epoch"), "'epoch' is missing");
    // in range, but the history holds two epochs: the file contradicts itself
    refused("epoch-history", m -> m.put("epoch", "5"), "history holds 2 epochs", "after 6 epochs");
  }

  @Test
  void resumingFromAWrappingEpochFailsAtOnce() {
    Path p = edited("resume-max", m -> m.put("epoch", "2147483647"));
    Setup fresh = TrainerTest.setup(Strategy.FULL);
    assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
      try (DataLoader tr = TrainerTest.loader(TrainerTest.train, true)) {
        GraftException e = assertThrows(GraftException.class, () -> new Trainer(fresh.model(), fresh.opt(), null,
            fresh.ft().loss(), Trainer.Options.epochs(3).withCheckpoint(p, true)).fit(tr, null));
        assertTrue(e.getMessage().contains("'epoch'"), e.getMessage());
      }
    });
  }

  @Test
  void trainerStateFieldsAreChecked() {
    refused("no-best", json("trainer", n -> n.remove("best")), "'best' is missing");
    refused("best-text", json("trainer", n -> n.put("best", "high")), "'best' must be a number");
    refused("best-epoch", json("trainer", n -> n.put("best_epoch", 7)), "'best_epoch' = 7 is out of range [0, 1]");
    refused("bad-epochs", json("trainer", n -> n.put("bad_epochs", -1)), "'bad_epochs' = -1 is out of range");
    refused("stopped", json("trainer", n -> n.put("stopped", "yes")), "'stopped' must be true or false");
    refused("history-object", json("trainer", n -> n.putObject("history")), "'history' must be a list");
    refused("history-no-lr", json("trainer", n -> ((ObjectNode) n.get("history").get(1)).remove("lr")),
        "history entry 1", "'lr' is missing");
    refused("history-epoch", json("trainer", n -> ((ObjectNode) n.get("history").get(1)).put("epoch", 1)),
        "history entry 1 has epoch 1, expected 2");
    refused("history-epoch-0", json("trainer", n -> ((ObjectNode) n.get("history").get(1)).put("epoch", 0)),
        "'epoch' = 0 is out of range [1,");
    refused("epoch-base", json("trainer", n -> n.put("epoch_base", 7)), "'epoch_base' = 7 is out of range [0, 1]");
    refused("confusion", json("trainer", n -> ((ArrayNode) n.get("history").get(0).get("val_confusion")).remove(0)),
        "val_confusion has 4 rows for 5 classes");
    refused("trainer-not-json", m -> m.put("trainer", "{\"best\": "), "'trainer' is not valid JSON");
    refused("trainer-list", m -> m.put("trainer", "[1, 2]"), "'trainer' must be an object");
  }

  /** Jackson writes a NaN double as the string "NaN": a checkpoint whose best metric was NaN loads. */
  @Test
  void aNanBestAsJacksonWritesItLoads() {
    Path p = edited("best-nan", json("trainer", n -> n.put("best", "NaN")));
    Setup fresh = TrainerTest.setup(Strategy.FULL);
    assertTrue(Double.isNaN(Checkpoint.load(p, fresh.model(), fresh.opt(), null, null).trainer().best()));
  }

  @Test
  void optimizerFieldsAreChecked() {
    refused("no-groups", m -> m.remove("optimizer.groups"), "'optimizer.groups' is missing");
    refused("groups-object", m -> m.put("optimizer.groups", "{}"), "'optimizer.groups' must be a list");
    refused("group-lr-text", groups(g -> ((ObjectNode) g.get(0)).put("lr", "fast")),
        "group 0: option 'lr' must be a number");
    refused("group-unknown", groups(g -> ((ObjectNode) g.get(0)).put("warp", "fast")),
        "group 0: option 'warp' must be a number, a boolean or a list of numbers");
    refused("group-momentum", groups(g -> ((ObjectNode) g.get(1)).put("nesterov", 1)),
        "group 1: option 'nesterov' must be true or false");
    refused("no-optimizer", m -> m.remove("optimizer"), "'optimizer' is missing");
    refused("no-rng", m -> m.remove("rng"), "'rng' is missing");
  }
}
