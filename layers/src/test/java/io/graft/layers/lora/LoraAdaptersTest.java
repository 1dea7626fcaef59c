package io.graft.layers.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.Safetensors;
import io.graft.core.random.Rng;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.Sequential;
import io.graft.layers.activation.ReLU;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.Flatten;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoraAdaptersTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final LoraConfig CONFIG = LoraConfig.r(2).alpha(16).targets("0", "3").modulesToSave("5");

  @TempDir
  Path dir;

  /** The same base weights every time (seeded): a Conv2d, a Linear and a head. */
  private static Sequential model() {
    Conv2d.Options o = Conv2d.Options.defaults().withPadding(1).withRng(new Rng(1));
    Rng rng = new Rng(2);
    return new Sequential(new Conv2d(3, 4, 3, o), new ReLU(), new Flatten(), new Linear(4 * 4 * 4, 6, true, rng),
        new ReLU(), new Linear(6, 3, true, rng));
  }

  private static Sequential trained() {
    Sequential m = model();
    Lora.apply(m, CONFIG, new Rng(3));
    Rng rng = new Rng(4);
    try (var g = GradMode.disabled()) {
      for (LoraLayer l : Lora.layers(m).values()) {
        l.loraB().data().assign(Tensor.randn(rng, l.loraB().shape()).data());
      }
      m.get("5", Linear.class).weight().data().addi(1);
    }
    return m;
  }

  private static int[] bits(Tensor t) {
    float[] f = t.toFloatArray();
    int[] b = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      b[i] = Float.floatToRawIntBits(f[i]);
    }
    return b;
  }

  private Map<String, Object> config() throws IOException {
    return JSON.readValue(dir.resolve(LoraAdapters.CONFIG).toFile(), new TypeReference<Map<String, Object>>() {});
  }

  private void writeConfig(Consumer<Map<String, Object>> edit) throws IOException {
    Map<String, Object> c = config();
    edit.accept(c);
    Files.write(dir.resolve(LoraAdapters.CONFIG), JSON.writeValueAsBytes(c));
  }

  @Test
  void writesPeftsFilesAndLoadsThemBackBitForBit() throws IOException {
    Sequential a = trained();
    LoraAdapters.save(a, CONFIG, dir, "base.pth", null);
    Safetensors.File f = Safetensors.open(dir.resolve(LoraAdapters.WEIGHTS));
    assertEquals(List.of("base_model.model.0.lora_A.weight", "base_model.model.0.lora_B.weight",
        "base_model.model.3.lora_A.weight", "base_model.model.3.lora_B.weight", "base_model.model.5.weight",
        "base_model.model.5.bias"), f.entries().stream().map(Safetensors.Entry::name).toList());
    assertEquals(Map.of("format", "pt"), f.metadata());
    Map<String, Object> c = config();
    assertEquals("LORA", c.get("peft_type"));
    assertEquals(2, c.get("r"));
    assertEquals(16, c.get("lora_alpha"));
    assertEquals(0.0, c.get("lora_dropout"));
    assertEquals(List.of("0", "3"), c.get("target_modules"));
    assertEquals(List.of("5"), c.get("modules_to_save"));
    assertEquals("none", c.get("bias"));
    assertEquals("base.pth", c.get("base_model_name_or_path"));
    assertEquals(false, c.get("fan_in_fan_out"));
    assertEquals(List.copyOf(new java.util.TreeSet<>(c.keySet())), List.copyOf(c.keySet()), "keys sorted, as PEFT");

    Sequential b = model();
    LoraConfig read = LoraAdapters.load(b, dir);
    assertEquals(List.of("0", "3"), read.targets());
    assertEquals(16.0, read.alpha());
    StateDict sa = a.stateDict();
    StateDict sb = b.stateDict();
    assertEquals(sa.keyList(), sb.keyList());
    sa.forEach(e -> assertArrayEquals(bits(e.getValue()), bits(sb.get(e.getKey())), e.getKey()));
    b.namedParameters().forEach((k, p) -> assertEquals(k.contains("lora_") || k.startsWith("5."), p.requiresGrad(),
        k));
    Tensor x = Tensor.randn(new Rng(5), 2, 3, 4, 4);
    a.eval();
    b.eval();
    assertArrayEquals(bits(a.call(x)), bits(b.call(x)));

    LoraAdapters.load(b, dir);   // into a model adapted the same way: accepted
  }

  @Test
  void refusesAModelAdaptedOtherwise() {
    LoraAdapters.save(trained(), CONFIG, dir, null, null);
    Sequential b = model();
    Lora.apply(b, LoraConfig.r(4).alpha(16).targets("0", "3"));
    GraftException e = assertThrows(GraftException.class, () -> LoraAdapters.load(b, dir));
    assertTrue(e.getMessage().contains("r=4") && e.getMessage().contains("saved config r=2"), e.getMessage());
    Sequential c = model();
    Lora.apply(c, LoraConfig.r(2).alpha(16).targets("0"));
    e = assertThrows(GraftException.class, () -> LoraAdapters.load(c, dir));
    assertTrue(e.getMessage().contains("saved, not in the model: [3]"), e.getMessage());
  }

  /** Loading into a plain model that the file does not fit leaves the model plain and trainable as it was. */
  private void assertRefusedAndUnchanged(String... fragments) {
    Sequential b = model();
    List<String> keys = b.stateDict().keyList();
    GraftException e = assertThrows(GraftException.class, () -> LoraAdapters.load(b, dir));
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), "'" + f + "' not in: " + e.getMessage());
    }
    assertEquals(keys, b.stateDict().keyList());
    b.parameters().forEach(p -> assertTrue(p.requiresGrad()));
  }

  @Test
  void refusesMissingUnexpectedAndMisshapenTensorsNamingTheKey() {
    Sequential a = trained();
    LoraAdapters.save(a, CONFIG, dir, null, null);
    StateDict sd = LoraAdapters.stateDict(a, CONFIG.modulesToSave());
    StateDict fewer = new StateDict(sd.asMap());
    fewer.remove("base_model.model.3.lora_B.weight");
    fewer.put("base_model.model.9.lora_A.weight", Tensor.zeros(2, 2));
    Safetensors.write(dir.resolve(LoraAdapters.WEIGHTS), fewer, Map.of());
    assertRefusedAndUnchanged("missing 'base_model.model.3.lora_B.weight'", "unexpected 'base_model.model.9.lora_A.weight'");
    StateDict bad = new StateDict(sd.asMap());
    bad.put("base_model.model.0.lora_A.weight", Tensor.zeros(2, 3, 1, 1));
    Safetensors.write(dir.resolve(LoraAdapters.WEIGHTS), bad, Map.of());
    assertRefusedAndUnchanged("'base_model.model.0.lora_A.weight' has shape [2, 3, 1, 1] in the file, [2, 3, 3, 3]");
  }

  @Test
  void refusesConfigsGraftCannotHonourNamingTheField() throws IOException {
    LoraAdapters.save(trained(), CONFIG, dir, null, null);
    writeConfig(c -> c.put("peft_type", "PREFIX_TUNING"));
    assertRefusedAndUnchanged("field 'peft_type' is 'PREFIX_TUNING'");
    writeConfig(c -> {
      c.put("peft_type", "LORA");
      c.put("target_modules", ".*\\.0");
    });
    assertRefusedAndUnchanged("'target_modules' is a regular expression");
    writeConfig(c -> {
      c.put("target_modules", List.of("0", "out_proj"));
    });
    assertRefusedAndUnchanged("target_modules entry 'out_proj' matches no module");
    writeConfig(c -> {
      c.put("target_modules", List.of("0", "3"));
      c.put("use_dora", true);
    });
    assertRefusedAndUnchanged("'use_dora' is true");
    writeConfig(c -> {
      c.put("use_dora", false);
      c.put("rank_pattern", Map.of("0", 8));
    });
    assertRefusedAndUnchanged("'rank_pattern'");
    writeConfig(c -> {
      c.put("rank_pattern", Map.of());
      c.put("r", 0);
    });
    assertRefusedAndUnchanged("field 'r' must be an integer in [1, 65536], got 0");
    writeConfig(c -> c.put("r", 2));
    LoraAdapters.load(model(), dir);   // the restored config fits
  }

  @Test
  void refusesAnOversizedConfig() throws IOException {
    LoraAdapters.save(trained(), CONFIG, dir, null, null);
    Files.write(dir.resolve(LoraAdapters.CONFIG), new byte[(int) LoraAdapters.MAX_CONFIG_BYTES + 1]);
    assertRefusedAndUnchanged("more than an adapter config's 1048576-byte cap");
  }

  @Test
  void readsPeftsSuffixTargets() throws IOException {
    Module m = new Sequential(new Sequential(new Linear(3, 3), new ReLU()), new Sequential(new Linear(3, 2)));
    Lora.apply(m, LoraConfig.r(1).targets("0.0", "1.0"));
    LoraAdapters.save(m, LoraConfig.r(1).targets("0.0", "1.0"), dir, null, null);
    writeConfig(c -> c.put("target_modules", List.of("0")));   // PEFT: every module whose path ends in ".0"
    LoraConfig read = LoraAdapters.readConfig(dir, new Sequential(new Sequential(new Linear(3, 3), new ReLU()),
        new Sequential(new Linear(3, 2)))).config();
    assertEquals(List.of("0", "0.0", "1.0"), read.targets());
  }

  @Test
  void roundTripsAnAdaptedAttentionAndItsOutProj() {
    Module a = new Sequential(new io.graft.layers.MultiheadAttention(8, 2, 0.0, true, true, new Rng(9)));
    LoraConfig c = LoraConfig.r(2).alpha(4).targets("0", "0.out_proj");
    Lora.apply(a, c, new Rng(3));
    Rng rng = new Rng(4);
    try (var g = GradMode.disabled()) {
      for (LoraLayer l : Lora.layers(a).values()) {
        l.loraB().data().assign(Tensor.randn(rng, l.loraB().shape()).data());
      }
    }
    LoraAdapters.save(a, c, dir, null, null);
    assertEquals(List.of("base_model.model.0.lora_A.weight", "base_model.model.0.lora_B.weight",
        "base_model.model.0.out_proj.lora_A.weight", "base_model.model.0.out_proj.lora_B.weight"),
        Safetensors.open(dir.resolve(LoraAdapters.WEIGHTS)).entries().stream().map(Safetensors.Entry::name).toList());
    Module b = new Sequential(new io.graft.layers.MultiheadAttention(8, 2, 0.0, true, true, new Rng(9)));
    assertEquals(List.of("0", "0.out_proj"), LoraAdapters.load(b, dir).targets());
    Tensor x = Tensor.randn(new Rng(5), 2, 3, 8);
    a.eval();
    b.eval();
    assertArrayEquals(bits(a.call(x)), bits(b.call(x)));
  }

  /** Crafted configs: each is refused with a GraftException (never another exception) and the model stays plain. */
  @Test
  void refusesHostileConfigsWithAClearError() throws IOException {
    LoraAdapters.save(trained(), CONFIG, dir, null, null);
    String ok = "\"peft_type\":\"LORA\",\"bias\":\"none\",\"lora_alpha\":16,\"target_modules\":[\"0\",\"3\"]";
    List<byte[]> hostile = new java.util.ArrayList<>();
    for (String text : List.of("[]", "null", "42", "\"LORA\"", "{", "", "{\"peft_type\":\"LORA\"}",
        "{" + ok + ",\"r\":\"8\"}", "{" + ok + ",\"r\":1e30}", "{" + ok + ",\"r\":2.5}",
        "{" + ok + ",\"r\":-1}", "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":\"x\",\"target_modules\":[\"0\"]}",
        "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":1,\"target_modules\":[1,2]}",
        "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":1,\"target_modules\":[]}",
        "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":1,\"target_modules\":{\"0\":1}}",
        "{" + ok + ",\"r\":2,\"modules_to_save\":\"5\"}", "{" + ok + ",\"r\":2,\"modules_to_save\":[\"9\"]}",
        "{" + ok + ",\"r\":2,\"lora_dropout\":1.5}", "{" + ok + ",\"r\":2,\"r\":3}",
        "[".repeat(5000) + "]".repeat(5000))) {
      hostile.add(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    hostile.add(new byte[] {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'});
    for (byte[] bytes : hostile) {
      Files.write(dir.resolve(LoraAdapters.CONFIG), bytes);
      Sequential b = model();
      List<String> keys = b.stateDict().keyList();
      try {
        LoraAdapters.load(b, dir);
        throw new AssertionError("accepted: " + new String(bytes, java.nio.charset.StandardCharsets.UTF_8));
      } catch (GraftException expected) {
        assertTrue(expected.getMessage().contains(dir.resolve(LoraAdapters.CONFIG).toString()), expected.getMessage());
      }
      assertEquals(keys, b.stateDict().keyList());
    }
  }
}
