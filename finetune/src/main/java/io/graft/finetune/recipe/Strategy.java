package io.graft.finetune.recipe;

import io.graft.core.GraftException;
import io.graft.layers.lora.LoraConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which parameters train. Freezing is by parameter name, applied by {@link Stages}:
 * <ul>
 *   <li>{@code SCRATCH} — a freshly initialised model (no pretrained weights), everything trains;
 *   <li>{@code FEATURE_EXTRACT} — only the new head trains (the backbone is frozen, its BatchNorm behaves as in
 *       inference under the default policy);
 *   <li>{@code lastK(k)} — the head and the last k backbone stages train;
 *   <li>{@code FULL} — everything trains (usually with a smaller backbone learning rate);
 *   <li>{@code gradual(schedule)} — starts as feature extraction and unfreezes named stages at given epochs
 *       (e.g. {3: ["layer4"], 5: ["layer3"]}); an empty schedule unfreezes one more stage at the start of every
 *       epoch from the second on, from the top down (ULMFiT's gradual unfreezing); optimizer state is kept
 *       throughout;
 *   <li>{@code lora(config)} — the backbone is frozen and low-rank adapters on the config's target layers train with
 *       the new head ({@link io.graft.layers.lora.Lora}); the head is a module to save (PEFT's {@code
 *       modules_to_save}).
 * </ul>
 */
public sealed interface Strategy {
  /** A freshly initialised model: everything trains. */
  Strategy SCRATCH = new Scratch();
  /** Only the new head trains; the backbone is frozen. */
  Strategy FEATURE_EXTRACT = new FeatureExtract();
  /** Everything trains, usually with a smaller backbone learning rate. */
  Strategy FULL = new Full();

  /** Training from scratch; see {@link #SCRATCH}. */
  record Scratch() implements Strategy {}

  /** Feature extraction; see {@link #FEATURE_EXTRACT}. */
  record FeatureExtract() implements Strategy {}

  /** Full fine-tuning; see {@link #FULL}. */
  record Full() implements Strategy {}

  /**
   * The head and the last {@code k} backbone stages (of {@link Stages#of}) train; {@code k = 0} is feature extraction.
   */
  record LastK(int k) implements Strategy {
    /** Throws {@link GraftException} for a negative {@code k}. */
    public LastK {
      if (k < 0) {
        throw new GraftException("last-k: k must be >= 0, got " + k);
      }
    }
  }

  /** Epoch (0-based) → stage names or parameter patterns to unfreeze at its start; empty: one stage per epoch. */
  record Gradual(Map<Integer, List<String>> schedule) implements Strategy {
    /** Copies {@code schedule}, sorted by epoch. */
    public Gradual {
      schedule = new TreeMap<>(schedule);
    }
  }

  /**
   * LoRA: the backbone frozen, adapters on {@code config}'s targets and the new head train (the head is added to the
   * modules to save by {@link FineTune#prepare}).
   */
  record Lora(LoraConfig config) implements Strategy {
    /** Throws {@link GraftException} when the config has no targets. */
    public Lora {
      if (config.targets().isEmpty()) {
        throw new GraftException("lora: give the layers to adapt, e.g. lora:r=8,alpha=16,targets=*.out_proj");
      }
    }
  }

  /** LoRA fine-tuning with {@code config}; see {@link Lora}. */
  static Strategy lora(LoraConfig config) {
    return new Lora(config);
  }

  /** The head and the last {@code k} stages train; throws {@link GraftException} for a negative {@code k}. */
  static Strategy lastK(int k) {
    return new LastK(k);
  }

  /**
   * Gradual unfreezing: epoch (0-based) to the stage names or parameter patterns opened at its start; an empty map
   * opens one more stage every epoch from the second on.
   */
  static Strategy gradual(Map<Integer, List<String>> schedule) {
    return new Gradual(schedule);
  }

  /**
   * {@code scratch}, {@code feature-extract}, {@code full}, {@code last-2}, {@code gradual} (one stage per epoch),
   * {@code gradual:3=layer4,5=layer3}. In this text form epochs are numbered from 1, as the command line prints
   * them ({@code gradual:3=layer4} opens layer4 at the start of the third epoch, {@link Gradual}'s key 2). LoRA:
   * {@code lora:r=8,alpha=16,dropout=0.05,targets=GLOB[,GLOB...]} (r defaults to 8, alpha to 8 and dropout to 0, as
   * PEFT's; targets is required and takes every following item without '=').
   */
  static Strategy parse(String s) {
    if (s.equals("lora") || s.startsWith("lora:")) {
      return parseLora(s);
    }
    if (s.equals("gradual")) {
      return new Gradual(Map.of());
    }
    if (s.equals("scratch")) {
      return SCRATCH;
    }
    if (s.equals("feature-extract")) {
      return FEATURE_EXTRACT;
    }
    if (s.equals("full")) {
      return FULL;
    }
    if (s.startsWith("last-")) {
      try {
        return new LastK(Integer.parseInt(s.substring(5)));
      } catch (NumberFormatException e) {
        throw new GraftException("strategy '" + s + "': expected last-K with an integer K");
      }
    }
    if (s.startsWith("gradual:")) {
      Map<Integer, List<String>> m = new TreeMap<>();
      for (String part : s.substring(8).split(",")) {
        String[] kv = part.split("=");
        if (kv.length != 2) {
          throw new GraftException("strategy '" + s + "': expected gradual:EPOCH=STAGE[+STAGE],...");
        }
        int epoch;
        try {
          epoch = Integer.parseInt(kv[0].trim());
        } catch (NumberFormatException e) {
          throw new GraftException("strategy '" + s + "': '" + kv[0] + "' is not an epoch number");
        }
        if (epoch < 1) {
          throw new GraftException("strategy '" + s + "': epochs are numbered from 1, got " + epoch);
        }
        m.put(epoch - 1, List.of(kv[1].trim().split("\\+")));
      }
      return new Gradual(m);
    }
    throw new GraftException("unknown strategy '" + s + "'; expected scratch, feature-extract, last-K (e.g. last-2), "
        + "full, gradual, gradual:EPOCH=STAGE,... or lora:r=R,alpha=A,targets=GLOB[,GLOB...]");
  }

  private static Strategy parseLora(String s) {
    String usage = "; expected lora:r=R,alpha=A,dropout=P,targets=GLOB[,GLOB...]";
    if (!s.startsWith("lora:")) {
      throw new GraftException("strategy '" + s + "': LoRA needs its targets" + usage);
    }
    int r = 8;
    double alpha = 8;
    double dropout = 0;
    List<String> targets = new ArrayList<>();
    java.util.Set<String> seen = new java.util.HashSet<>();
    boolean inTargets = false;
    for (String part : s.substring(5).split(",", -1)) {
      String item = part.trim();
      int eq = item.indexOf('=');
      if (eq < 0) {
        if (!inTargets || item.isEmpty()) {
          throw new GraftException("strategy '" + s + "': '" + item + "' is not KEY=VALUE" + usage);
        }
        targets.add(item);
        continue;
      }
      String key = item.substring(0, eq).trim();
      String value = item.substring(eq + 1).trim();
      if (!seen.add(key)) {
        throw new GraftException("strategy '" + s + "': '" + key + "' is given twice");
      }
      inTargets = key.equals("targets");
      try {
        switch (key) {
          case "r" -> r = Integer.parseInt(value);
          case "alpha" -> alpha = Double.parseDouble(value);
          case "dropout" -> dropout = Double.parseDouble(value);
          case "targets" -> {
            if (value.isEmpty()) {
              throw new GraftException("strategy '" + s + "': empty target" + usage);
            }
            targets.add(value);
          }
          default -> throw new GraftException("strategy '" + s + "': unknown LoRA setting '" + key + "'" + usage);
        }
      } catch (NumberFormatException e) {
        throw new GraftException("strategy '" + s + "': " + key + " '" + value + "' is not a number");
      }
    }
    if (targets.isEmpty()) {
      throw new GraftException("strategy '" + s + "': no targets" + usage);
    }
    try {
      return new Lora(new LoraConfig(r, alpha, dropout, targets, List.of()));
    } catch (GraftException e) {
      throw new GraftException("strategy '" + s + "': " + e.getMessage(), e);
    }
  }

  /**
   * The strategy in the command line's text form ({@code full}, {@code last-2}, {@code gradual:3=layer4}, ...), which
   * {@code parse} reads back.
   */
  default String label() {
    if (this instanceof LastK l) {
      return "last-" + l.k();
    }
    if (this instanceof Lora l) {
      LoraConfig c = l.config();
      return "lora:r=" + c.r() + ",alpha=" + number(c.alpha()) + ",dropout=" + number(c.dropout()) + ",targets="
          + String.join(",", c.targets());
    }
    if (this instanceof Gradual g) {
      if (g.schedule().isEmpty()) {
        return "gradual";
      }
      List<String> parts = new java.util.ArrayList<>();
      g.schedule().forEach((e, stages) -> parts.add((e + 1) + "=" + String.join("+", stages)));
      return "gradual:" + String.join(",", parts);
    }
    return this instanceof Scratch ? "scratch" : this instanceof FeatureExtract ? "feature-extract" : "full";
  }

  private static String number(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? String.valueOf((long) v) : String.valueOf(v);
  }
}
