package io.graft.layers.lora;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.AtomicFiles;
import io.graft.core.io.Safetensors;
import io.graft.layers.Module;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The adapters alone, in PEFT's on-disk layout (what {@code PeftModel.save_pretrained} writes and {@code
 * PeftModel.from_pretrained} reads), in a directory:
 *
 * <ul>
 *   <li>{@value #WEIGHTS}: {@code base_model.model.<path>.lora_A.weight} and {@code ...lora_B.weight} for every
 *       adapted layer, then every parameter of each module to save as {@code base_model.model.<path>.<name>} (PEFT
 *       drops its {@code modules_to_save.default} level when saving); metadata {@code format: pt}.
 *   <li>{@value #CONFIG}: PEFT's {@code LoraConfig} fields, keys sorted as PEFT writes them: {@code peft_type "LORA"},
 *       {@code r}, {@code lora_alpha}, {@code lora_dropout}, {@code target_modules} (the adapted module paths, each
 *       exact, which PEFT matches by equality or dotted suffix), {@code modules_to_save}, {@code bias "none"},
 *       {@code fan_in_fan_out false}, {@code init_lora_weights true}, {@code use_rslora false}, {@code use_dora
 *       false}, {@code inference_mode true}, {@code task_type}, {@code base_model_name_or_path}, and the empty {@code
 *       rank_pattern}/{@code alpha_pattern}, null {@code layers_to_transform}/{@code layers_pattern}/{@code revision}.
 * </ul>
 *
 * <p>Each file is written atomically ({@link AtomicFiles}); the pair is not (weights first, then the config), and a
 * mismatched pair is refused on loading by the shape and key checks.
 *
 * <p>Loading refuses, naming the field or key: a config larger than {@link #MAX_CONFIG_BYTES} or repeating a key,
 * another {@code
 * peft_type}, a {@code bias} other than {@code "none"}, {@code fan_in_fan_out}, {@code use_rslora}, {@code use_dora},
 * a non-empty {@code rank_pattern}/{@code alpha_pattern}, {@code layers_to_transform}, a {@code target_modules} given
 * as a regular expression (a string) or matching nothing; a model already adapted differently (other paths, rank,
 * alpha or dropout); a missing, unexpected or misshapen tensor. Nothing in the model changes when anything is refused.
 */
public final class LoraAdapters {
  /** The adapter weights' file name, PEFT's. */
  public static final String WEIGHTS = "adapter_model.safetensors";
  /** The adapter config's file name, PEFT's. */
  public static final String CONFIG = "adapter_config.json";
  /** Largest {@value #CONFIG} read: PEFT writes about 1 KiB plus the target paths. */
  public static final long MAX_CONFIG_BYTES = 1 << 20;
  /** The key prefix of PEFT's saved adapters ({@code PeftModel.base_model.model}). */
  public static final String PREFIX = "base_model.model.";

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
      .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  private LoraAdapters() {}

  /** A LoRA config read from an adapter directory, with the base model named in it (PEFT's fields). */
  public record Saved(LoraConfig config, String baseModel, String taskType) {}

  /**
   * The adapter tensors of {@code model} under PEFT's saved names (live tensors, not copies): the adapters of every
   * LoRA layer, then the parameters of {@code modulesToSave}.
   */
  public static StateDict stateDict(Module model, List<String> modulesToSave) {
    Map<String, LoraLayer> layers = Lora.layers(model);
    if (layers.isEmpty()) {
      throw new GraftException("LoRA: " + model.typeName() + " has no LoRA layers to save (Lora.apply adds them)");
    }
    StateDict sd = new StateDict();
    layers.forEach((path, l) -> {
      sd.put(PREFIX + path + ".lora_A.weight", l.loraA());
      sd.put(PREFIX + path + ".lora_B.weight", l.loraB());
    });
    for (String path : modulesToSave) {
      model.get(path).stateDict().forEach(e -> sd.put(PREFIX + path + "." + e.getKey(), e.getValue()));
    }
    return sd;
  }

  /**
   * Writes {@value #WEIGHTS} and {@value #CONFIG} into {@code dir} (created if missing) for the LoRA layers of
   * {@code model} and {@code config}'s modules to save; {@code baseModel} (the base weights' name or path, PEFT's
   * {@code base_model_name_or_path}) and {@code taskType} (PEFT's {@code task_type}) may be null. The config's targets
   * are written as the adapted module paths. Throws {@link GraftException} if the model has no LoRA layers or its
   * layers' rank, alpha or dropout differ from {@code config}'s.
   */
  public static void save(Module model, LoraConfig config, Path dir, String baseModel, String taskType) {
    Map<String, LoraLayer> layers = Lora.layers(model);
    for (Map.Entry<String, LoraLayer> e : layers.entrySet()) {
      LoraLayer l = e.getValue();
      if (l.r() != config.r() || l.alpha() != config.alpha() || l.dropout() != config.dropout()) {
        throw new GraftException("LoRA save: layer '" + e.getKey() + "' has r=" + l.r() + ", alpha=" + l.alpha()
            + ", dropout=" + l.dropout() + ", the config r=" + config.r() + ", alpha=" + config.alpha() + ", dropout="
            + config.dropout());
      }
    }
    StateDict sd = stateDict(model, config.modulesToSave());
    AtomicFiles.directory(dir, "LoRA adapter directory");
    Safetensors.write(dir.resolve(WEIGHTS), sd, Map.of("format", "pt"));
    Map<String, Object> c = new TreeMap<>();
    c.put("alpha_pattern", Map.of());
    c.put("auto_mapping", null);
    c.put("base_model_name_or_path", baseModel);
    c.put("bias", "none");
    c.put("fan_in_fan_out", false);
    c.put("inference_mode", true);
    c.put("init_lora_weights", true);
    c.put("layers_pattern", null);
    c.put("layers_to_transform", null);
    c.put("lora_alpha", config.alpha() == Math.rint(config.alpha()) ? (Object) (long) config.alpha() : config.alpha());
    c.put("lora_dropout", config.dropout());
    c.put("modules_to_save", config.modulesToSave().isEmpty() ? null : config.modulesToSave());
    c.put("peft_type", "LORA");
    c.put("r", config.r());
    c.put("rank_pattern", Map.of());
    c.put("revision", null);
    c.put("target_modules", new ArrayList<>(layers.keySet()));
    c.put("task_type", taskType);
    c.put("use_dora", false);
    c.put("use_rslora", false);
    try {
      byte[] bytes = JSON.writeValueAsBytes(c);
      AtomicFiles.write(dir.resolve(CONFIG), o -> o.write(bytes));
    } catch (IOException e) {
      throw new GraftException(dir.resolve(CONFIG) + ": cannot write: " + e.getMessage(), e);
    }
  }

  /**
   * Reads {@value #CONFIG} from {@code dir} and resolves its {@code target_modules} against {@code model} (PEFT's
   * rule: a module is a target when its path equals an entry or ends with {@code "." + entry}); the returned config's
   * targets are the exact paths. Refuses what the class comment lists.
   */
  public static Saved readConfig(Path dir, Module model) {
    Path f = dir.resolve(CONFIG);
    String where = f.toString();
    Map<String, Object> m;
    try {
      if (!Files.isRegularFile(f)) {
        throw new GraftException(where + ": no LoRA adapter config (" + CONFIG + ") in " + dir);
      }
      long size = Files.size(f);
      if (size > MAX_CONFIG_BYTES) {
        throw new GraftException(where + ": " + size + " bytes, more than an adapter config's " + MAX_CONFIG_BYTES
            + "-byte cap");
      }
      m = JSON.readValue(f.toFile(), new TypeReference<Map<String, Object>>() {});
    } catch (IOException e) {
      throw new GraftException(where + ": not a readable adapter config (" + e.getMessage() + ")", e);
    }
    if (m == null) {
      throw new GraftException(where + ": not a JSON object");
    }
    expect(m, "peft_type", "LORA", where, true);
    expect(m, "bias", "none", where, false);
    for (String flag : List.of("fan_in_fan_out", "use_rslora", "use_dora")) {
      Object v = m.get(flag);
      if (v != null && !Boolean.FALSE.equals(v)) {
        throw new GraftException(where + ": field '" + flag + "' is " + v + "; Graft's LoRA supports only false");
      }
    }
    for (String pattern : List.of("rank_pattern", "alpha_pattern")) {
      Object v = m.get(pattern);
      if (v != null && !(v instanceof Map<?, ?> p && p.isEmpty())) {
        throw new GraftException(where + ": field '" + pattern + "' is " + v + "; Graft's LoRA has one rank and alpha "
            + "for every layer");
      }
    }
    if (m.get("layers_to_transform") != null) {
      throw new GraftException(where + ": field 'layers_to_transform' is set (" + m.get("layers_to_transform")
          + "); Graft's LoRA takes the layers from target_modules only");
    }
    int r = (int) integer(m, "r", 1, LoraConfig.MAX_R, where);
    double alpha = number(m, "lora_alpha", where, true);
    double dropout = m.containsKey("lora_dropout") && m.get("lora_dropout") != null
        ? number(m, "lora_dropout", where, true) : 0;
    Object t = m.get("target_modules");
    if (t instanceof String s) {
      throw new GraftException(where + ": field 'target_modules' is a regular expression ('" + s + "'); Graft reads a "
          + "list of module names or paths");
    }
    List<String> entries = strings(t, "target_modules", where, false);
    if (entries.isEmpty()) {
      throw new GraftException(where + ": field 'target_modules' is empty");
    }
    List<String> toSave = strings(m.get("modules_to_save"), "modules_to_save", where, true);
    Set<String> targets = new LinkedHashSet<>();
    Map<String, Module> modules = model.namedModules();
    for (String entry : entries) {
      boolean hit = false;
      for (String path : modules.keySet()) {
        if (!path.isEmpty() && (path.equals(entry) || path.endsWith("." + entry)) && !insideAdapter(path, modules)) {
          targets.add(path);
          hit = true;
        }
      }
      if (!hit) {
        throw new GraftException(where + ": target_modules entry '" + entry + "' matches no module of "
            + model.typeName());
      }
    }
    LoraConfig c;
    try {
      c = new LoraConfig(r, alpha, dropout, new ArrayList<>(targets), toSave);
    } catch (GraftException e) {
      throw new GraftException(where + ": " + e.getMessage(), e);
    }
    Object base = m.get("base_model_name_or_path");
    Object task = m.get("task_type");
    return new Saved(c, base == null ? null : String.valueOf(base), task == null ? null : String.valueOf(task));
  }

  /** Whether {@code path} lies in the lora_A or lora_B of a LoRA layer (an adapted attention's out_proj does not). */
  private static boolean insideAdapter(String path, Map<String, Module> modules) {
    for (int dot = path.lastIndexOf('.'); dot > 0; dot = path.lastIndexOf('.', dot - 1)) {
      String rest = path.substring(dot + 1);
      if (modules.get(path.substring(0, dot)) instanceof LoraLayer
          && (rest.equals("lora_A") || rest.startsWith("lora_A.") || rest.equals("lora_B")
          || rest.startsWith("lora_B."))) {
        return true;
      }
    }
    return false;
  }

  /**
   * Loads the adapters in {@code dir} into {@code model}: applies the saved config first when {@code model} has no
   * LoRA layers (as {@code PeftModel.from_pretrained}), else checks that its LoRA layers are exactly the saved ones
   * (paths, rank, alpha, dropout); then copies every tensor of {@value #WEIGHTS} after checking them all (every key
   * expected and present, each shape equal). Returns the config read. On any refusal the model is left as it was.
   */
  public static LoraConfig load(Module model, Path dir) {
    Saved saved = readConfig(dir, model);
    LoraConfig c = saved.config();
    Map<String, LoraLayer> existing = Lora.layers(model);
    Path wf = dir.resolve(WEIGHTS);
    if (!Files.isRegularFile(wf)) {
      throw new GraftException(wf + ": no LoRA adapter weights (" + WEIGHTS + ") in " + dir);
    }
    Safetensors.File file = Safetensors.open(wf);
    Map<Parameter, Boolean> flags = new IdentityHashMap<>();
    model.parameters().forEach(p -> flags.put(p, p.requiresGrad()));
    boolean applied = false;
    if (existing.isEmpty()) {
      try {
        Lora.apply(model, c);
      } catch (GraftException e) {
        throw new GraftException(dir.resolve(CONFIG) + ": " + e.getMessage(), e);
      }
      applied = true;
    } else {
      checkSame(existing, c, dir.resolve(CONFIG));
    }
    try {
      copy(file, wf, stateDict(model, c.modulesToSave()));
    } catch (GraftException e) {
      if (applied) {
        Lora.unload(model);
        flags.forEach(Parameter::requiresGrad);
      }
      throw e;
    }
    return c;
  }

  private static void checkSame(Map<String, LoraLayer> existing, LoraConfig c, Path where) {
    List<String> diffs = new ArrayList<>();
    if (!new LinkedHashSet<>(c.targets()).equals(existing.keySet())) {
      Set<String> missing = new LinkedHashSet<>(c.targets());
      missing.removeAll(existing.keySet());
      Set<String> extra = new LinkedHashSet<>(existing.keySet());
      extra.removeAll(c.targets());
      diffs.add("adapted layers differ (saved, not in the model: " + missing + "; in the model, not saved: " + extra
          + ")");
    }
    for (Map.Entry<String, LoraLayer> e : existing.entrySet()) {
      LoraLayer l = e.getValue();
      if (l.r() != c.r() || l.alpha() != c.alpha() || l.dropout() != c.dropout()) {
        diffs.add("'" + e.getKey() + "' has r=" + l.r() + ", alpha=" + l.alpha() + ", dropout=" + l.dropout()
            + ", the saved config r=" + c.r() + ", lora_alpha=" + c.alpha() + ", lora_dropout=" + c.dropout());
        break;
      }
    }
    if (!diffs.isEmpty()) {
      throw new GraftException(where + ": the model's LoRA layers are not the saved ones: " + String.join("; ", diffs));
    }
  }

  private static void copy(Safetensors.File file, Path wf, StateDict expected) {
    Map<String, Safetensors.Entry> entries = new LinkedHashMap<>();
    for (Safetensors.Entry e : file.entries()) {
      entries.put(e.name(), e);
    }
    List<String> problems = new ArrayList<>();
    for (Map.Entry<String, Tensor> e : expected) {
      Safetensors.Entry f = entries.get(e.getKey());
      if (f == null) {
        problems.add("missing '" + e.getKey() + "'");
      } else if (!Arrays.equals(f.shape(), e.getValue().shape())) {
        problems.add("'" + e.getKey() + "' has shape " + Arrays.toString(f.shape()) + " in the file, "
            + Arrays.toString(e.getValue().shape()) + " in the model");
      } else if (!List.of("F32", "F16", "BF16", "F64").contains(f.dtype())) {
        problems.add("'" + e.getKey() + "' is " + f.dtype() + ", not a floating-point tensor");
      }
    }
    for (String k : entries.keySet()) {
      if (!expected.containsKey(k)) {
        problems.add("unexpected '" + k + "'");
      }
    }
    if (!problems.isEmpty()) {
      throw new GraftException(wf + ": the adapter weights do not fit the model: " + String.join("; ", problems));
    }
    try (var g = GradMode.disabled()) {
      for (Map.Entry<String, Tensor> e : expected) {
        Tensor src = file.tensor(e.getKey());
        DataType dt = e.getValue().dtype();
        e.getValue().data().assign(src.dtype() == dt ? src.data() : src.data().castTo(dt));
      }
    }
  }

  private static void expect(Map<String, Object> m, String key, String value, String where, boolean required) {
    Object v = m.get(key);
    if (v == null && !required) {
      return;
    }
    if (!value.equals(v)) {
      throw new GraftException(where + ": field '" + key + "' is " + (v == null ? "missing" : "'" + v + "'")
          + "; Graft reads only " + key + " '" + value + "'");
    }
  }

  private static long integer(Map<String, Object> m, String key, long min, long max, String where) {
    Object v = m.get(key);
    if (!(v instanceof Integer || v instanceof Long) || ((Number) v).longValue() < min
        || ((Number) v).longValue() > max) {
      throw new GraftException(where + ": field '" + key + "' must be an integer in [" + min + ", " + max + "], got "
          + v);
    }
    return ((Number) v).longValue();
  }

  private static double number(Map<String, Object> m, String key, String where, boolean finite) {
    Object v = m.get(key);
    if (!(v instanceof Number n) || finite && !Double.isFinite(n.doubleValue())) {
      throw new GraftException(where + ": field '" + key + "' must be a finite number, got " + v);
    }
    return n.doubleValue();
  }

  private static List<String> strings(Object v, String key, String where, boolean nullable) {
    if (v == null && nullable) {
      return List.of();
    }
    if (!(v instanceof List<?> l)) {
      throw new GraftException(where + ": field '" + key + "' must be a list of strings, got " + v);
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < l.size(); i++) {
      if (!(l.get(i) instanceof String s) || s.isEmpty()) {
        throw new GraftException(where + ": field '" + key + "[" + i + "]' must be a non-empty string, got " + l.get(i));
      }
      out.add(s);
    }
    return out;
  }
}
