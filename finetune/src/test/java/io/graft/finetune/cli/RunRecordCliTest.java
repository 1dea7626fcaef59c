package io.graft.finetune.cli;

import static io.graft.finetune.cli.GraftCliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.graft.finetune.cli.GraftCliTest.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Run records (issue 23 item 5): metrics.json's {@code config} block (every option, versions, native build,
 * threads, seed), metrics.csv and classes.json beside it, and {@code graft finetune --config} replaying a recorded
 * run to identical metrics, with command-line options overriding the file, unknown keys refused and another
 * version warned about.
 */
class RunRecordCliTest {
  @TempDir
  Path tmp;

  static final ObjectMapper JSON = new ObjectMapper();


  Path data() throws Exception {
    Map<String, Map<String, Integer>> splits = new LinkedHashMap<>();
    splits.put("train", FinetuneCliTest.counts(6, "bag", "dress", "shirt"));
    splits.put("val", FinetuneCliTest.counts(3, "bag", "dress", "shirt"));
    return TinyImageFolder.make(tmp.resolve("data"), splits);
  }

  static JsonNode metrics(Path out) throws Exception {
    return JSON.readTree(out.resolve("metrics.json").toFile());
  }

  /** The figures a replay must reproduce: every epoch's losses and accuracies, and the test results. */
  static List<Object> figures(JsonNode m) {
    List<Object> f = new java.util.ArrayList<>();
    for (JsonNode e : m.get("history")) {
      for (String k : new String[] {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"}) {
        f.add(k + "=" + e.get(k));
      }
    }
    for (String k : new String[] {"test_accuracy", "test_loss", "test_confusion"}) {
      f.add(k + "=" + m.get(k));
    }
    return f;
  }

  @Test
  void aRunRecordsItsConfigAndReplaysToIdenticalMetrics() throws Exception {
    Path data = data();
    Path out = tmp.resolve("run");
    Result first = run("finetune", "--model", "smallcnn", "--weights", FinetuneCliTest.smallcnnWeights(tmp).toString(), "--data",
        data.toString(), "--batch-size", "6", "--epochs", "2", "--lr", "0.05", "--seed", "7", "--strategy", "full",
        "--no-progress", "--out", out.toString());
    assertEquals(0, first.code(), first.err());
    JsonNode m = metrics(out);
    JsonNode c = m.get("config");
    JsonNode o = c.get("options");
    // every option of the command, by its longest name, with its resolved value (defaults included)
    assertEquals("smallcnn", o.get("model").asText());
    assertEquals(6, o.get("batch-size").asInt());
    assertEquals(0.05, o.get("lr").asDouble());
    assertEquals(0.9, o.get("momentum").asDouble(), "a default is recorded too");
    assertTrue(o.get("classes").isNull(), "an option not set is recorded as null");
    assertTrue(o.get("no-progress").asBoolean());
    assertEquals(data.toAbsolutePath().normalize().toString(), o.get("data").asText());
    assertEquals(out.toAbsolutePath().normalize().toString(), o.get("out").asText());
    assertFalse(o.has("config") || o.has("help") || o.has("version"), o.toString());
    for (var opt : new picocli.CommandLine(new FinetuneCommand()).getCommandSpec().options()) {
      String key = opt.longestName().replaceFirst("^-+", "");
      assertTrue(o.has(key) || List.of("config", "help", "version").contains(key), "not recorded: " + key);
    }
    // what the run ran on
    assertEquals(BuildInfo.current().version(), c.get("graft_version").asText());
    assertNotEquals(BuildInfo.UNKNOWN, c.get("graft_version").asText(), "the build generates graft-version.properties");
    assertTrue(c.get("graft_commit").asText().matches("[0-9a-f]{40}|unknown"), c.toString());
    assertEquals(System.getProperty("java.runtime.version"), c.get("java_version").asText());
    assertEquals("1.0.0-M2.1", c.get("nd4j_version").asText());
    assertTrue(c.get("backend").asText().contains("native build " + c.get("native_build").asText()),
        "the loaded build, as the backend line names it: " + c);
    assertTrue(c.get("threads").asInt() > 0, c.toString());
    assertEquals(7, c.get("seed").asInt());
    // metrics.csv: a header and one row per epoch, the same figures as metrics.json
    List<String> csv = Files.readAllLines(out.resolve("metrics.csv"));
    assertEquals("epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_top5,lr_0,lr_1,seconds,"
        + "images_per_second,feature_cache", csv.get(0));
    assertEquals(3, csv.size());
    for (int e = 0; e < 2; e++) {
      String[] row = csv.get(e + 1).split(",", -1);
      JsonNode h = m.get("history").get(e);
      assertEquals(e + 1, Integer.parseInt(row[0]));
      assertEquals(h.get("train_loss").asDouble(), Double.parseDouble(row[1]));
      assertEquals(h.get("val_accuracy").asDouble(), Double.parseDouble(row[4]));
      assertEquals(h.get("lr").get(1).asDouble(), Double.parseDouble(row[7]));
    }
    // classes.json beside the weights
    assertEquals(List.of("bag", "dress", "shirt"), List.of(JSON.readValue(out.resolve("classes.json").toFile(),
        String[].class)));

    // predict finds the run's class names in its weights
    Result predict = run("predict", "--model", "smallcnn", "--weights", out.resolve("model.safetensors").toString(),
        "--images", data.resolve("val").resolve("dress").toString(), "--top-k", "3");
    assertEquals(0, predict.code(), predict.err());
    assertFalse(predict.err().contains("warning"), predict.err());
    assertTrue(predict.out().contains("bag") && predict.out().contains("dress") && predict.out().contains("shirt"),
        predict.out());

    // without --out, the replay would overwrite the run it replays: refused
    byte[] before = Files.readAllBytes(out.resolve("metrics.json"));
    Result inPlace = run("finetune", "--config", out.resolve("metrics.json").toString());
    assertEquals(Graft.BAD_INPUT, inPlace.code(), inPlace.err());
    assertTrue(inPlace.err().contains("give --out DIR for the replay"), inPlace.err());
    assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(out.resolve("metrics.json"))));

    // replay into a new --out: identical figures, the same recorded options but --out
    Path again = tmp.resolve("again");
    Result replay = run("finetune", "--config", out.resolve("metrics.json").toString(), "--out", again.toString());
    assertEquals(0, replay.code(), replay.err());
    assertFalse(replay.err().contains("warning"), replay.err());
    JsonNode m2 = metrics(again);
    assertEquals(figures(m), figures(m2));
    ObjectNode o2 = (ObjectNode) m2.get("config").get("options").deepCopy();
    assertEquals(again.toAbsolutePath().normalize().toString(), o2.get("out").asText());
    o2.set("out", o.get("out"));
    assertEquals(o, o2);

    // an option given on the command line overrides the file's
    Path shorter = tmp.resolve("shorter");
    Result override = run("finetune", "--config", out.resolve("metrics.json").toString(), "--out",
        shorter.toString(), "--epochs", "1");
    assertEquals(0, override.code(), override.err());
    JsonNode m3 = metrics(shorter);
    assertEquals(1, m3.get("history").size());
    assertEquals(figures(m).subList(0, 6), figures(m3).subList(0, 6), "epoch 1 is the recorded run's epoch 1");
  }

  /** A run.json holding a config block: an unknown key is refused by name; another version is replayed with a warning. */
  @Test
  void aStandaloneRunJsonIsCheckedKeyByKeyAndVersionMismatchWarns() throws Exception {
    Path data = data();
    Map<String, Object> options = new LinkedHashMap<>();
    options.put("model", "smallcnn");
    options.put("weights", FinetuneCliTest.smallcnnWeights(tmp).toString());
    options.put("data", data.toString());
    options.put("epochs", 1);
    options.put("batch-size", 6);
    options.put("no-progress", true);
    options.put("batchsize", 6);
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("graft_version", "0.0.1");
    config.put("graft_commit", "0123456789abcdef0123456789abcdef01234567");
    config.put("options", options);
    Path runJson = tmp.resolve("run.json");
    JSON.writeValue(runJson.toFile(), Map.of("config", config));
    Result unknown = run("finetune", "--config", runJson.toString(), "--out", tmp.resolve("u").toString());
    assertEquals(Graft.BAD_INPUT, unknown.code(), unknown.err());
    assertTrue(unknown.err().contains("'batchsize' is not an option of graft finetune"), unknown.err());
    assertFalse(Files.exists(tmp.resolve("u")));

    options.remove("batchsize");
    JSON.writeValue(runJson.toFile(), Map.of("config", config));
    Path out = tmp.resolve("v");
    Result older = run("finetune", "--config", runJson.toString(), "--out", out.toString());
    assertEquals(0, older.code(), older.err());
    assertTrue(older.err().contains("graft: warning: ") && older.err().contains("recorded by Graft 0.0.1")
        && older.err().contains("this is Graft " + BuildInfo.current().version()), older.err());
    assertEquals(1, metrics(out).get("history").size());
    assertEquals(6, metrics(out).get("config").get("options").get("batch-size").asInt());

    // a value picocli cannot convert is refused as if typed; a file without a config block is refused
    options.put("epochs", "many");
    JSON.writeValue(runJson.toFile(), Map.of("config", config));
    Result bad = run("finetune", "--config", runJson.toString(), "--out", tmp.resolve("w").toString());
    assertEquals(Graft.BAD_INPUT, bad.code(), bad.err());
    assertTrue(bad.err().contains("many") && bad.err().contains("--epochs"), bad.err());
    JSON.writeValue(runJson.toFile(), Map.of("history", List.of()));
    Result none = run("finetune", "--config", runJson.toString(), "--out", tmp.resolve("w").toString());
    assertEquals(Graft.BAD_INPUT, none.code(), none.err());
    assertTrue(none.err().contains("has no 'config' block"), none.err());
  }

  @Test
  void helpStatesTheOverrideRule() {
    Result help = run("finetune", "--help");
    assertEquals(0, help.code(), help.err());
    assertTrue(help.out().replaceAll("\\s+", " ").contains("an option given on this command line overrides the "
        + "file's"), help.out());
  }
}
