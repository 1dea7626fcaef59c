package io.graft.layers.lora;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.init.Init;
import io.graft.core.random.Rng;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.MultiheadAttention;
import io.graft.layers.conv.Conv2d;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Applying, merging and removing LoRA adapters on a model (PEFT's {@code get_peft_model}, {@code merge_adapter},
 * {@code unmerge_adapter}, {@code merge_and_unload}).
 *
 * <pre>{@code
 * Module vit = Zoo.create("vit_b_16", 10);
 * Lora.apply(vit, LoraConfig.r(8).alpha(16).targets("encoder.layers.*.self_attention.out_proj",
 *     "encoder.layers.*.mlp.0", "encoder.layers.*.mlp.3").modulesToSave("heads.head"));
 * // ... train: only the adapters and heads.head require grad ...
 * LoraAdapters.save(vit, config, dir, "vit_b_16");      // adapter_model.safetensors + adapter_config.json
 * Module plain = Lora.mergeAndUnload(vit);              // torchvision's keys only
 * }</pre>
 */
public final class Lora {
  private Lora() {}

  /** {@link #apply(Module, LoraConfig, Rng)} with {@link Init#defaultRng()}. */
  public static Map<String, LoraLayer> apply(Module model, LoraConfig config) {
    return apply(model, config, Init.defaultRng());
  }

  /**
   * Replaces every module matched by {@code config.targets()} by its LoRA wrapper ({@link LoraLinear}, {@link
   * LoraConv2d}, or {@link LoraMultiheadAttention} for an attention module's packed q/k/v projection), through {@code
   * Module.replace}, so the parent must accept a new child; then freezes every other parameter of {@code model}: only
   * the adapters (of this call and of earlier ones) and the parameters of {@code config.modulesToSave()} stay
   * trainable. Returns the new wrappers by module path, in the model's order.
   *
   * <p>Everything is checked before anything changes: a target that matches no module, a match that is not a {@code
   * Linear}, {@code Conv2d} or {@code MultiheadAttention} (or is already adapted, or lies inside an adapter), a base
   * layer the wrapper refuses, and a module to save that does not exist or is also a target are each a {@link
   * GraftException} naming the glob or path (and the type). If a parent refuses the new child, the replacements done
   * so far and the freezing are undone before the error is thrown.
   */
  public static Map<String, LoraLayer> apply(Module model, LoraConfig config, Rng rng) {
    if (config.targets().isEmpty()) {
      throw new GraftException("LoRA: no targets: give LoraConfig.targets(GLOB, ...) (globs over module paths)");
    }
    Map<String, Module> modules = model.namedModules();
    List<String> adapted = new ArrayList<>();
    for (Map.Entry<String, Module> e : modules.entrySet()) {
      if (e.getValue() instanceof LoraLayer) {
        adapted.add(e.getKey());
      }
    }
    Map<String, Module> chosen = new LinkedHashMap<>();
    for (String glob : config.targets()) {
      boolean hit = false;
      for (Map.Entry<String, Module> e : modules.entrySet()) {
        String path = e.getKey();
        if (!LoraConfig.matches(glob, path)) {
          continue;
        }
        hit = true;
        Module m = e.getValue();
        for (String a : adapted) {
          if (path.equals(a) || path.startsWith(a + ".lora_A") || path.startsWith(a + ".lora_B")) {
            throw new GraftException("LoRA target '" + glob + "' matches '" + path + "', which is already adapted "
                + "(" + (path.equals(a) ? m.typeName() : "inside the adapter of the LoraLayer '" + a + "'") + ")");
          }
        }
        if (!(m instanceof Linear) && !(m instanceof Conv2d) && !(m instanceof MultiheadAttention)) {
          throw new GraftException("LoRA target '" + glob + "' matches '" + (path.isEmpty() ? "(the model)" : path)
              + "', a " + m.typeName() + "; LoRA adapts Linear, Conv2d and MultiheadAttention (its packed q/k/v "
              + "projection) layers only");
        }
        chosen.put(path, m);
      }
      if (!hit) {
        throw new GraftException("LoRA target '" + glob + "' matches no module of " + model.typeName()
            + " (globs match whole module paths; '*' matches dots too, e.g. '*.out_proj'); " + hint(glob, modules));
      }
    }
    for (String path : config.modulesToSave()) {
      try {
        model.get(path);
      } catch (GraftException e) {
        throw new GraftException("LoRA: module to save '" + path + "' does not exist: " + e.getMessage(), e);
      }
      for (String t : chosen.keySet()) {
        if (t.equals(path) || t.startsWith(path + ".")) {
          throw new GraftException("LoRA: module to save '" + path + "' is also adapted ('" + t + "' is a target); "
              + "a module trains either fully or through adapters");
        }
      }
    }
    Map<Parameter, Boolean> flags = new IdentityHashMap<>();
    model.parameters().forEach(p -> flags.put(p, p.requiresGrad()));
    Map<String, LoraLayer> wrappers = new LinkedHashMap<>();
    for (Map.Entry<String, Module> e : chosen.entrySet()) {
      Module m = e.getValue();
      try {
        wrappers.put(e.getKey(), m instanceof Linear l
            ? new LoraLinear(l, config.r(), config.alpha(), config.dropout(), rng)
            : m instanceof MultiheadAttention a
            ? new LoraMultiheadAttention(a, config.r(), config.alpha(), config.dropout(), rng)
            : new LoraConv2d((Conv2d) m, config.r(), config.alpha(), config.dropout(), rng));
      } catch (GraftException ex) {
        restoreFlags(flags);
        throw new GraftException("LoRA target '" + e.getKey() + "': " + ex.getMessage(), ex);
      }
    }
    List<String> done = new ArrayList<>();
    try {
      for (Map.Entry<String, LoraLayer> e : wrappers.entrySet()) {
        model.replace(e.getKey(), e.getValue());
        done.add(e.getKey());
      }
    } catch (GraftException ex) {
      for (int i = done.size() - 1; i >= 0; i--) {   // an attention module's out_proj before the module
        model.replace(done.get(i), chosen.get(done.get(i)));
      }
      restoreFlags(flags);
      throw new GraftException("LoRA: cannot put an adapter at '" + wrappers.keySet().toArray()[done.size()] + "': "
          + ex.getMessage(), ex);
    }
    model.requiresGrad(false);
    for (LoraLayer w : layers(model).values()) {
      w.loraA().requiresGrad(true);
      w.loraB().requiresGrad(true);
    }
    for (String path : config.modulesToSave()) {
      model.get(path).requiresGrad(true);
    }
    return wrappers;
  }

  /** The wrapper constructors froze the base parameters: puts the recorded flags back. */
  private static void restoreFlags(Map<Parameter, Boolean> flags) {
    flags.forEach(Parameter::requiresGrad);
  }

  private static String hint(String glob, Map<String, Module> modules) {
    String last = glob.substring(glob.lastIndexOf('.') + 1).replace("*", "").replace("?", "");
    List<String> near = new ArrayList<>();
    for (Map.Entry<String, Module> e : modules.entrySet()) {
      String p = e.getKey();
      if (!last.isEmpty() && p.endsWith("." + last) || p.equals(last)) {
        if (near.size() < 5) {
          near.add(p + " (" + e.getValue().typeName() + ")");
        }
      }
    }
    if (!near.isEmpty()) {
      return "paths ending in '" + last + "': " + near;
    }
    return "top-level modules: " + modules.get("").namedChildren().keySet();
  }

  /** The LoRA layers of {@code model} by module path, in the model's order (empty if none). */
  public static Map<String, LoraLayer> layers(Module model) {
    Map<String, LoraLayer> out = new LinkedHashMap<>();
    model.namedModules().forEach((p, m) -> {
      if (m instanceof LoraLayer l) {
        out.put(p, l);
      }
    });
    return out;
  }

  /** {@link LoraLayer#merge} on every LoRA layer; throws {@link GraftException} if the model has none. */
  public static void merge(Module model) {
    for (LoraLayer l : nonEmpty(model).values()) {
      l.merge();
    }
  }

  /** {@link LoraLayer#unmerge} on every LoRA layer (restoring the base weights bit for bit). */
  public static void unmerge(Module model) {
    for (LoraLayer l : nonEmpty(model).values()) {
      l.unmerge();
    }
  }

  /**
   * Merges every adapter into its base weight (those merged already stay so) and puts the base layers back in place
   * of the wrappers: {@code model} is left a plain model whose state dict has torchvision's keys only, with the
   * merged weights. Parameters keep their {@code requiresGrad} flags (the base weights stay frozen). Returns {@code
   * model}.
   */
  public static Module mergeAndUnload(Module model) {
    for (Map.Entry<String, LoraLayer> e : innermostFirst(model)) {
      LoraLayer l = e.getValue();
      if (!l.isMerged()) {
        l.merge();
      }
      l.dropSavedWeight();
      model.replace(e.getKey(), l.base());
    }
    return model;
  }

  /**
   * Removes every adapter without merging (PEFT's {@code unload}): each wrapper is replaced by its base layer, whose
   * weight is the original one (a merged layer is unmerged first, restoring its bits). The base parameters stay frozen.
   * Returns {@code model}.
   */
  public static Module unload(Module model) {
    for (Map.Entry<String, LoraLayer> e : innermostFirst(model)) {
      LoraLayer l = e.getValue();
      if (l.isMerged()) {
        l.unmerge();
      }
      model.replace(e.getKey(), l.base());
    }
    return model;
  }

  /** The LoRA layers, an adapted out_proj before the adapted attention module that holds it. */
  private static List<Map.Entry<String, LoraLayer>> innermostFirst(Module model) {
    List<Map.Entry<String, LoraLayer>> all = new ArrayList<>(nonEmpty(model).entrySet());
    java.util.Collections.reverse(all);
    return all;
  }

  private static Map<String, LoraLayer> nonEmpty(Module model) {
    Map<String, LoraLayer> ls = layers(model);
    if (ls.isEmpty()) {
      throw new GraftException("LoRA: " + model.typeName() + " has no LoRA layers (Lora.apply adds them)");
    }
    return ls;
  }
}
