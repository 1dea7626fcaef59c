package io.graft.finetune.cli;

import static io.graft.finetune.cli.GraftCliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.io.Safetensors;
import io.graft.finetune.cli.GraftCliTest.Result;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code graft finetune} and {@code graft eval} on tiny ImageFolders: one class list per run (from train/, other
 * splits mapped by name, empty class folders refused, saved class names checked), resume checked against the
 * recorded options, the augmentation choice and the feature cache, the recipe's flags and one-line events, and
 * epochs numbered from 1 everywhere.
 */
class FinetuneCliTest {
  @TempDir
  Path tmp;

  static final ObjectMapper JSON = new ObjectMapper();

  /** smallcnn weights (5-way head, replaced by fine-tuning), as a pretrained file. */
  static Path smallcnnWeights(Path dir) {
    io.graft.core.init.Init.manualSeed(1);
    Module m = Zoo.create("smallcnn", 5);
    Path w = dir.resolve("smallcnn.safetensors");
    Safetensors.write(w, m.stateDict(), Map.of());
    return w;
  }

  static Map<String, Integer> counts(int n, String... classes) {
    Map<String, Integer> m = new java.util.LinkedHashMap<>();
    for (String c : classes) {
      m.put(c, n);
    }
    return m;
  }

  Path threeClasses(String name, String... testClasses) throws Exception {
    Map<String, Map<String, Integer>> splits = new java.util.LinkedHashMap<>();
    splits.put("train", counts(6, "bag", "dress", "shirt"));
    splits.put("val", counts(3, "bag", "dress", "shirt"));
    splits.put("test", counts(4, testClasses));
    return TinyImageFolder.make(tmp.resolve(name), splits);
  }

  List<String> finetune(Path data, Path out, String... extra) {
    List<String> a = new ArrayList<>(List.of("finetune", "--model", "smallcnn", "--weights",
        smallcnnWeights(tmp).toString(), "--data", data.toString(), "--batch-size", "6", "--no-progress", "--out",
        out.toString()));
    a.addAll(List.of(extra));
    if (!a.contains("--epochs")) {
      a.addAll(List.of("--epochs", "2"));
    }
    if (!a.contains("--lr")) {
      a.addAll(List.of("--lr", "0.05"));
    }
    return a;
  }

  static JsonNode metrics(Path out) throws Exception {
    return JSON.readTree(out.resolve("metrics.json").toFile());
  }

  /** Item 1: a test/ without bag/ keeps dress as dress (mapped by name), warns, and writes null, not "NaN". */
  @Test
  void aTestSplitMissingAClassIsMappedByNameWithAWarning() throws Exception {
    Path data = threeClasses("data", "dress", "shirt");
    Path out = tmp.resolve("run");
    Result r = run(finetune(data, out).toArray(String[]::new));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.err().contains("graft: warning: test/ has no folder for class(es) [bag]"), r.err());
    JsonNode m = metrics(out);
    assertEquals("[\"bag\",\"dress\",\"shirt\"]", m.get("classes").toString());
    JsonNode confusion = m.get("test_confusion");
    long[] rows = new long[3];
    for (int c = 0; c < 3; c++) {
      for (JsonNode v : confusion.get(c)) {
        rows[c] += v.asLong();
      }
    }
    assertEquals(0, rows[0], "no test image is labelled bag: " + confusion);
    assertEquals(4, rows[1], "the 4 dress images are labelled dress: " + confusion);
    assertEquals(4, rows[2], "the 4 shirt images are labelled shirt: " + confusion);
    assertTrue(m.get("test_per_class_accuracy").get(0).isNull(), m.get("test_per_class_accuracy").toString());
    assertFalse(Files.readString(out.resolve("metrics.json")).contains("NaN"));
    double acc = m.get("test_accuracy").asDouble();

    // eval matches the folders to the class names saved in model.safetensors, even where train/ differs
    Path other = TinyImageFolder.make(tmp.resolve("other"), Map.of("train", counts(2, "bag", "dress", "hat",
        "shirt"), "val", counts(2, "bag", "hat"), "test", counts(4, "dress", "shirt")));
    Files.walk(other.resolve("test")).sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    Files.move(data.resolve("test"), other.resolve("test"));
    Result e = run("eval", "--model", "smallcnn", "--weights", out.resolve("model.safetensors").toString(), "--data",
        other.toString());
    assertEquals(0, e.code(), e.err());
    assertTrue(e.out().contains(String.format("top-1 %.2f%%", acc)), e.out() + " vs " + acc);
    assertTrue(e.err().contains("warning") && e.err().contains("[bag]"), e.err());
    // --classes would renumber the labels that the saved names fixed: refused
    Result renumbered = run("eval", "--model", "smallcnn", "--weights", out.resolve("model.safetensors").toString(),
        "--data", other.toString(), "--classes", "1-3");
    assertEquals(Graft.BAD_INPUT, renumbered.code(), renumbered.err());
    assertTrue(renumbered.err().contains("--classes 1-3") && renumbered.err().contains("class names"),
        renumbered.err());
    // a test folder with a class the model was not trained on is refused, naming it
    TinyImageFolder.images(other.resolve("test"), "hat", 3, 2, 9);
    Result bad = run("eval", "--model", "smallcnn", "--weights", out.resolve("model.safetensors").toString(),
        "--data", other.toString());
    assertEquals(Graft.BAD_INPUT, bad.code(), bad.err());
    assertTrue(bad.err().contains("[hat]") && bad.err().contains("not among"), bad.err());
  }

  /** Item 1: IDX data whose selected classes differ from the saved class names is refused, naming the difference. */
  @Test
  void evalRefusesDataWhoseClassesDifferFromTheSavedNames() {
    Path assets = io.graft.finetune.recipe.Demo.assets();
    List<String> all = io.graft.finetune.data.IdxDataset.FASHION_CLASSES;
    Module m = Zoo.create("smallcnn", 5);
    Path w = tmp.resolve("fmnist-0-4.safetensors");
    Safetensors.write(w, m.stateDict(), ClassNames.metadata(all.subList(0, 5)));
    Result r = run("eval", "--model", "smallcnn", "--weights", w.toString(), "--data", "fashion-mnist:" + assets,
        "--classes", "5-9");
    assertEquals(Graft.BAD_INPUT, r.code(), r.err() + r.out());
    assertTrue(r.err().contains("missing [T-shirt/top, Trouser, Pullover, Dress, Coat]")
        && r.err().contains("--classes 5-9"), r.err());
    Path right = tmp.resolve("fmnist-5-9.safetensors");
    Safetensors.write(right, m.stateDict(), ClassNames.metadata(all.subList(5, 10)));
    Result ok = run("eval", "--model", "smallcnn", "--weights", right.toString(), "--data", "fashion-mnist:" + assets,
        "--classes", "5-9");
    assertEquals(0, ok.code(), ok.err());
  }

  /** Item 2: an empty class folder is refused with its name, not turned into a class. */
  @Test
  void anEmptyClassFolderIsRefused() throws Exception {
    Path data = threeClasses("data", "bag", "dress", "shirt");
    Files.createDirectories(data.resolve("train").resolve("socks"));
    Files.createDirectories(data.resolve("val").resolve("socks"));
    Result r = run(finetune(data, tmp.resolve("run")).toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("socks/") && r.err().contains("without images"), r.err());
    // a val/ with a class train/ lacks is refused too
    Files.delete(data.resolve("train").resolve("socks"));
    Files.delete(data.resolve("val").resolve("socks"));
    TinyImageFolder.images(data.resolve("val"), "hat", 3, 2, 5);
    Result extra = run(finetune(data, tmp.resolve("run2")).toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, extra.code(), extra.err());
    assertTrue(extra.err().contains("[hat]") && extra.err().contains("val"), extra.err());
  }

  /** Item 3: --resume with another strategy is refused, naming it, and leaves the run's files; --epochs may grow. */
  @Test
  void resumeChecksTheRecordedOptions() throws Exception {
    Path data = threeClasses("data", "bag", "dress", "shirt");
    Path out = tmp.resolve("run");
    Result first = run(finetune(data, out, "--epochs", "1", "--strategy", "full").toArray(String[]::new));
    assertEquals(0, first.code(), first.err());
    byte[] metricsBefore = Files.readAllBytes(out.resolve("metrics.json"));
    byte[] ckptBefore = Files.readAllBytes(out.resolve("last.ckpt"));
    Result other = run(finetune(data, out, "--epochs", "2", "--strategy", "last-1", "--resume")
        .toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, other.code(), other.err());
    assertTrue(other.err().contains("--strategy was 'full', now 'last-1'"), other.err());
    assertFalse(other.err().contains("--epochs"), "epochs may change: " + other.err());
    assertTrue(java.util.Arrays.equals(metricsBefore, Files.readAllBytes(out.resolve("metrics.json"))));
    assertTrue(java.util.Arrays.equals(ckptBefore, Files.readAllBytes(out.resolve("last.ckpt"))));
    Result lr = run(finetune(data, out, "--epochs", "2", "--strategy", "full", "--lr", "0.1", "--resume")
        .toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, lr.code(), lr.err());
    assertTrue(lr.err().contains("--lr was '0.05', now '0.1'"), lr.err());
    // the class list is part of the run: a class folder added since is refused too
    TinyImageFolder.images(data.resolve("train"), "hat", 3, 3, 7);
    TinyImageFolder.images(data.resolve("val"), "hat", 3, 2, 8);
    Result classes = run(finetune(data, out, "--epochs", "2", "--strategy", "full", "--resume")
        .toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, classes.code(), classes.err());
    assertTrue(classes.err().contains("classes were [bag, dress, shirt], now [bag, dress, hat, shirt]")
        && classes.err().contains("not in the model [hat]"), classes.err());
    for (String split : new String[] {"train", "val"}) {
      try (var files = Files.walk(data.resolve(split).resolve("hat"))) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
    Result more = run(finetune(data, out, "--epochs", "2", "--strategy", "full", "--resume").toArray(String[]::new));
    assertEquals(0, more.code(), more.err());
    assertTrue(more.out().contains("resumed from the checkpoint: epoch 1 done, continuing at epoch 2 of 2"),
        more.out());
    JsonNode m = metrics(out);
    assertEquals(2, m.get("history").size());
    assertEquals(1, m.get("history").get(0).get("epoch").asInt());
    assertEquals(2, m.get("history").get(1).get("epoch").asInt());
  }

  /**
   * Item 4 and the Proof: feature extraction on an ImageFolder trains on cached features (feature_cache true every
   * epoch, from epoch 2 on without running the backbone), and ends with the same accuracy as the uncached run.
   */
  @Test
  void featureExtractionOnAnImageFolderUsesTheCacheAndMatchesTheUncachedRun() throws Exception {
    Path data = threeClasses("data", "bag", "dress", "shirt");
    io.graft.core.init.Init.manualSeed(2);
    Module r18 = Zoo.create("resnet18", 4);
    Path w = tmp.resolve("r18.safetensors");
    Safetensors.write(w, r18.stateDict(), Map.of());
    List<String> common = List.of("finetune", "--model", "resnet18", "--weights", w.toString(), "--data",
        data.toString(), "--strategy", "feature-extract", "--image-size", "16", "--epochs", "3", "--batch-size", "6",
        "--lr", "0.05", "--no-progress");
    List<String> cachedArgs = new ArrayList<>(common);
    cachedArgs.addAll(List.of("--out", tmp.resolve("cached").toString()));
    Result cached = run(cachedArgs.toArray(String[]::new));
    assertEquals(0, cached.code(), cached.err());
    assertTrue(cached.out().contains("augmentation: none; feature-extract trains the head on backbone features"),
        cached.out());
    List<String> plainArgs = new ArrayList<>(common);
    plainArgs.addAll(List.of("--no-feature-cache", "--out", tmp.resolve("plain").toString()));
    Result plain = run(plainArgs.toArray(String[]::new));
    assertEquals(0, plain.code(), plain.err());
    JsonNode a = metrics(tmp.resolve("cached"));
    JsonNode b = metrics(tmp.resolve("plain"));
    for (int e = 0; e < 3; e++) {
      JsonNode ea = a.get("history").get(e);
      JsonNode eb = b.get("history").get(e);
      assertEquals(e + 1, ea.get("epoch").asInt());
      assertTrue(ea.get("feature_cache").asBoolean(), "epoch " + (e + 1) + " cached: " + ea);
      assertFalse(eb.get("feature_cache").asBoolean(), "epoch " + (e + 1) + " uncached: " + eb);
      assertEquals(eb.get("train_loss").asDouble(), ea.get("train_loss").asDouble(), 1e-4, "train loss " + (e + 1));
      assertEquals(eb.get("val_accuracy").asDouble(), ea.get("val_accuracy").asDouble(), 1e-9, "val acc " + (e + 1));
      assertEquals(eb.get("val_loss").asDouble(), ea.get("val_loss").asDouble(), 1e-4, "val loss " + (e + 1));
    }
    assertEquals(b.get("test_accuracy").asDouble(), a.get("test_accuracy").asDouble(), 1e-9);
    assertEquals(b.get("test_loss").asDouble(), a.get("test_loss").asDouble(), 1e-4);
    // with augmentation the cache is off, and the run says why
    List<String> augArgs = new ArrayList<>(common);
    augArgs.addAll(List.of("--augment", "flip", "--epochs", "1", "--out", tmp.resolve("aug").toString()));
    augArgs.remove(augArgs.indexOf("--epochs") + 1);
    augArgs.remove("--epochs");
    Result aug = run(augArgs.toArray(String[]::new));
    assertEquals(0, aug.code(), aug.err());
    assertTrue(aug.out().contains("augmentation: flip is random, so the feature cache is off"), aug.out());
    assertFalse(metrics(tmp.resolve("aug")).get("history").get(0).get("feature_cache").asBoolean());
    Result unknown = run(List.of("finetune", "--model", "resnet18", "--weights", w.toString(), "--data",
        data.toString(), "--augment", "wild", "--out", tmp.resolve("x").toString()).toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, unknown.code());
    assertTrue(unknown.err().contains("--augment") && unknown.err().contains("wild"), unknown.err());
  }

  /**
   * What the per-family runs (docs/finetune.md) showed: a frozen backbone with stochastic depth or dropout before the
   * head cannot use the feature cache, and the run says so instead of announcing the cache; a ViT at another
   * --image-size than it was built for is refused before training, naming the option.
   */
  @Test
  void featureCacheLineAndVitImageSizeTellTheTruth() throws Exception {
    Path data = threeClasses("data", "bag", "dress", "shirt");
    io.graft.core.init.Init.manualSeed(1);
    Path w = tmp.resolve("efficientnet_b0.safetensors");
    Safetensors.write(w, Zoo.create("efficientnet_b0", 5).stateDict(), Map.of());
    Path out = tmp.resolve("fe");
    Result r = run("finetune", "--model", "efficientnet_b0", "--weights", w.toString(), "--data", data.toString(),
        "--strategy", "feature-extract", "--image-size", "32", "--batch-size", "6", "--epochs", "1", "--no-progress",
        "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    // the first random module in the model's order: block 0's stochastic depth has p = 0, block 1's the first p > 0
    assertTrue(r.out().contains("augmentation: none; the feature cache is off (stochastic depth "
        + "'features.2.0.stochastic_depth' before the head is random in training mode), so the backbone runs every "
        + "epoch"), r.out());
    assertFalse(r.out().contains("features computed once"), r.out());
    assertFalse(metrics(out).get("history").get(0).get("feature_cache").asBoolean());

    Result vit = run("finetune", "--model", "vit_b_32", "--strategy", "scratch", "--data", data.toString(),
        "--image-size", "64", "--epochs", "1", "--no-progress", "--out", tmp.resolve("vit").toString());
    assertEquals(Graft.BAD_INPUT, vit.code(), vit.out());
    assertTrue(vit.err().contains("--image-size 64: vit_b_32 takes 224x224 images only")
        && vit.err().contains("pass --image-size 224"), vit.err());
    assertFalse(Files.exists(tmp.resolve("vit").resolve("metrics.json")));
  }

  /**
   * Item 7: gradient clipping, class weights, a warm-up and cosine schedule, early stopping and gradual unfreezing
   * from the command line, each event on one line, epochs numbered from 1 on screen and in every file.
   */
  @Test
  void theRecipesFlagsAndEvents() throws Exception {
    Path data = threeClasses("data", "bag", "dress", "shirt");
    Path out = tmp.resolve("run");
    Result r = run(finetune(data, out, "--epochs", "3", "--strategy", "gradual:2=fc1,3=features.5", "--grad-clip", "1.0",
        "--class-weights", "auto", "--lr-schedule", "cosine", "--warmup-epochs", "1").toArray(String[]::new));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("epoch 1/3: train loss") && r.out().contains("epoch 3/3: train loss"), r.out());
    assertTrue(r.out().contains("epoch 2: unfroze fc1") && r.out().contains("epoch 3: unfroze features.5"), r.out());
    JsonNode m = metrics(out);
    // the lr of the head group after each epoch: warm-up done after epoch 1, then cosine over the 2 epochs left
    assertEquals(0.05, m.get("history").get(0).get("lr").get(0).asDouble(), 1e-12);
    assertEquals(0.025, m.get("history").get(1).get("lr").get(0).asDouble(), 1e-12);
    assertEquals(0.0, m.get("history").get(2).get("lr").get(0).asDouble(), 1e-12);
    int best = m.get("best_epoch").asInt();
    assertTrue(best >= 1 && best <= 3, "best epoch " + best);
    List<String> lines = Files.readAllLines(out.resolve("metrics.jsonl"));
    for (int e = 0; e < 3; e++) {
      assertEquals(e + 1, JSON.readTree(lines.get(e)).get("epoch").asInt());
    }
    // the cosine schedule spans the recorded epochs, so a resume may not change them
    Result longer = run(finetune(data, out, "--epochs", "4", "--strategy", "gradual:2=fc1,3=features.5", "--grad-clip",
        "1.0", "--class-weights", "auto", "--lr-schedule", "cosine", "--warmup-epochs", "1", "--resume")
        .toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, longer.code(), longer.err());
    assertTrue(longer.err().contains("--epochs was '3', now '4' (the cosine schedule"), longer.err());
    // a learning rate too small to change anything: no improvement after epoch 1, early stop after epoch 2
    Path still = tmp.resolve("still");
    Result stop = run(finetune(data, still, "--epochs", "5", "--patience", "1", "--lr", "1e-30")
        .toArray(String[]::new));
    assertEquals(0, stop.code(), stop.err());
    assertTrue(stop.out().contains("early stop after epoch 2: no better val accuracy for 1 epoch(s); best epoch 1"),
        stop.out());
    assertEquals(1, metrics(still).get("best_epoch").asInt());
    Path weights = tmp.resolve("w.txt");
    Files.writeString(weights, "1, 2\n");
    Result bad = run(finetune(data, tmp.resolve("bad"), "--class-weights", weights.toString())
        .toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, bad.code());
    assertTrue(bad.err().contains("2 weights for 3 classes"), bad.err());
  }
}
