package io.graft.finetune.recipe;

import io.graft.core.GraftException;
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
 *       throughout.
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
   * them ({@code gradual:3=layer4} opens layer4 at the start of the third epoch, {@link Gradual}'s key 2).
   */
  static Strategy parse(String s) {
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
        + "full, gradual or gradual:EPOCH=STAGE,...");
  }

  /**
   * The strategy in the command line's text form ({@code full}, {@code last-2}, {@code gradual:3=layer4}, ...), which
   * {@code parse} reads back.
   */
  default String label() {
    if (this instanceof LastK l) {
      return "last-" + l.k();
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
}
