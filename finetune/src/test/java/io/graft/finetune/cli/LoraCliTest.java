package io.graft.finetune.cli;

import static io.graft.finetune.cli.GraftCliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.finetune.cli.GraftCliTest.Result;
import io.graft.layers.lora.LoraAdapters;
import io.graft.zoo.models.Zoo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code graft finetune --strategy lora:...} on smallcnn (adapters on its two convolutions) and {@code graft export
 * --adapters DIR --merge}: the run writes PEFT's adapter files and the merged model under the zoo's names, the
 * frozen weights come out bit-identical, the export merges the same model again, and senseless combinations are
 * refused naming the option.
 */
class LoraCliTest {
  @TempDir
  Path tmp;

  private Path data() throws Exception {
    Map<String, Map<String, Integer>> splits = new LinkedHashMap<>();
    splits.put("train", FinetuneCliTest.counts(4, "bag", "dress", "shirt"));
    splits.put("val", FinetuneCliTest.counts(2, "bag", "dress", "shirt"));
    splits.put("test", FinetuneCliTest.counts(2, "bag", "dress", "shirt"));
    return TinyImageFolder.make(tmp.resolve("data"), splits);
  }

  private List<String> finetune(Path data, Path weights, Path out, String strategy, String... extra) {
    List<String> a = new ArrayList<>(List.of("finetune", "--model", "smallcnn", "--weights", weights.toString(),
        "--data", data.toString(), "--batch-size", "6", "--no-progress", "--epochs", "1", "--lr", "0.01",
        "--optimizer", "adamw", "--strategy", strategy, "--out", out.toString()));
    a.addAll(List.of(extra));
    return a;
  }

  private static int[] bits(Tensor t) {
    float[] f = t.toFloatArray();
    int[] b = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      b[i] = Float.floatToRawIntBits(f[i]);
    }
    return b;
  }

  @Test
  void aLoraRunWritesPeftAdaptersAndTheMergedModelWhichExportReproduces() throws Exception {
    Path data = data();
    Path weights = FinetuneCliTest.smallcnnWeights(tmp);
    Path out = tmp.resolve("run");
    Result r = run(finetune(data, weights, out, "lora:r=4,alpha=8,targets=features.0,features.4").toArray(
        String[]::new));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("strategy lora:r=4,alpha=8,dropout=0,targets=features.0,features.4"), r.out());

    StateDict merged = Safetensors.read(out.resolve("model.safetensors"));
    assertEquals(Zoo.create("smallcnn", 3).stateDict().keyList(), merged.keyList(), "the zoo's keys only");
    StateDict base = Safetensors.read(weights);
    for (String k : List.of("features.0.bias", "features.1.weight", "features.1.running_mean", "features.5.bias",
        "fc1.weight", "fc1.bias")) {
      assertArrayEquals(bits(base.get(k)), bits(merged.get(k)), k + ": frozen, so bit-identical to the base");
    }
    assertFalse(java.util.Arrays.equals(bits(base.get("features.4.weight")), bits(merged.get("features.4.weight"))),
        "the adapted conv's weight is merged");

    Safetensors.File adapters = Safetensors.open(out.resolve(LoraAdapters.WEIGHTS));
    assertEquals(List.of("base_model.model.features.0.lora_A.weight", "base_model.model.features.0.lora_B.weight",
        "base_model.model.features.4.lora_A.weight", "base_model.model.features.4.lora_B.weight",
        "base_model.model.head.weight", "base_model.model.head.bias"),
        adapters.entries().stream().map(Safetensors.Entry::name).toList());
    JsonNode config = FinetuneCliTest.JSON.readTree(out.resolve(LoraAdapters.CONFIG).toFile());
    assertEquals("LORA", config.get("peft_type").asText());
    assertEquals("[\"features.0\",\"features.4\"]", config.get("target_modules").toString());
    assertEquals("[\"head\"]", config.get("modules_to_save").toString());
    JsonNode lora = FinetuneCliTest.metrics(out).get("lora");
    assertEquals(4, lora.get("r").asInt());
    long trainable = lora.get("trainable_parameters").asLong();
    // adapters: 4·(1·9) + 16·4 and 4·(16·9) + 32·4; head: 64·3 + 3
    assertEquals(36 + 64 + 576 + 128 + 195, trainable);
    assertTrue(trainable < lora.get("total_parameters").asLong() / 100, lora.toString());
    assertEquals("lora:r=4,alpha=8,targets=features.0,features.4",
        FinetuneCliTest.metrics(out).get("config").get("options").get("strategy").asText());

    Path again = tmp.resolve("again.safetensors");
    Result e = run("export", "--model", "smallcnn", "--weights", weights.toString(), "--adapters", out.toString(),
        "--merge", "--safetensors", again.toString(), "--onnx", tmp.resolve("m.onnx").toString());
    assertEquals(0, e.code(), e.err());
    StateDict exported = Safetensors.read(again);
    assertEquals(merged.keyList(), exported.keyList());
    merged.forEach(t -> assertArrayEquals(bits(t.getValue()), bits(exported.get(t.getKey())), t.getKey()));
    assertTrue(Files.size(tmp.resolve("m.onnx")) > 0);
    assertEquals("[\"bag\",\"dress\",\"shirt\"]", Safetensors.open(again).metadata().get("graft.classes"));
  }

  @Test
  void aLoraRunResumesFromItsCheckpoint() throws Exception {
    Path data = data();
    Path weights = FinetuneCliTest.smallcnnWeights(tmp);
    Path out = tmp.resolve("resumed");
    String lora = "lora:r=2,alpha=4,targets=features.4";
    Result first = run(finetune(data, weights, out, lora).toArray(String[]::new));
    assertEquals(0, first.code(), first.err());
    List<String> again = finetune(data, weights, out, lora, "--resume");
    again.set(again.indexOf("--epochs") + 1, "2");
    Result second = run(again.toArray(String[]::new));
    assertEquals(0, second.code(), second.err());
    assertTrue(second.out().contains("epoch 2/2"), second.out());
    assertFalse(second.out().contains("epoch 1/2"), "epoch 1 came from the checkpoint: " + second.out());
    assertEquals(2, FinetuneCliTest.metrics(out).get("history").size());
  }

  @Test
  void senselessCombinationsAreRefusedNamingTheOption() throws Exception {
    Path data = data();
    Path weights = FinetuneCliTest.smallcnnWeights(tmp);
    Path out = tmp.resolve("bad");
    String lora = "lora:r=4,targets=features.0";
    Result r = run(finetune(data, weights, out, lora, "--layer-decay", "0.8").toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("--layer-decay"), r.err());
    r = run(finetune(data, weights, out, lora, "--spark-master", "local[2]").toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("--spark-master local[2]") && r.err().contains("leave out --spark-master"), r.err());
    r = run(finetune(data, weights, out, lora, "--backbone-lr-scale", "0.1").toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("leave out --backbone-lr-scale"), r.err());
    r = run(finetune(data, weights, out, "lora:r=4,targets=fc1").toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("cannot put an adapter at 'fc1'"), r.err());
    r = run(finetune(data, weights, out, "lora:r=4,targets=features.1").toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("'features.1', a BatchNorm2d"), r.err());
    r = run(finetune(data, weights, out, "lora:r=4,targets=head").toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("module to save 'head' is also adapted"), r.err());
    r = run(finetune(data, weights, out, "lora:r=4,targets=*.conv9").toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("'*.conv9' matches no module"), r.err());
    r = run(finetune(data, weights, out, "lora:r=4,alpha=x,targets=features.0").toArray(String[]::new));
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("alpha 'x' is not a number"), r.err());

    Result e = run("export", "--model", "smallcnn", "--weights", weights.toString(), "--merge", "--safetensors",
        tmp.resolve("x.safetensors").toString());
    assertEquals(Graft.BAD_INPUT, e.code(), e.err());
    assertTrue(e.err().contains("--merge needs --adapters"), e.err());
    e = run("export", "--model", "smallcnn", "--weights", weights.toString(), "--adapters", tmp.toString(),
        "--safetensors", tmp.resolve("x.safetensors").toString());
    assertEquals(Graft.BAD_INPUT, e.code(), e.err());
    assertTrue(e.err().contains("--adapters needs --merge"), e.err());
    e = run("export", "--model", "smallcnn", "--weights", weights.toString(), "--adapters", tmp.toString(),
        "--merge", "--safetensors", tmp.resolve("x.safetensors").toString());
    assertEquals(Graft.BAD_INPUT, e.code(), e.err());
    assertTrue(e.err().contains("no LoRA adapter config (adapter_config.json)"), e.err());
    e = run("export", "--model", "smallcnn", "--weights", weights.toString());
    assertEquals(Graft.BAD_INPUT, e.code(), e.err());
    assertTrue(e.err().contains("--onnx FILE.onnx and/or --safetensors"), e.err());
  }
}
