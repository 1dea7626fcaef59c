package io.graft.layers.lora;

import io.graft.core.GraftException;
import java.util.List;

/**
 * What {@link Lora#apply} adapts and how, after PEFT's {@code LoraConfig}: the rank {@code r}, {@code alpha} (PEFT's
 * {@code lora_alpha}; the adapter's output is scaled by {@code alpha / r}), the {@code dropout} probability on the
 * adapter's input (PEFT's {@code lora_dropout}), the {@code targets} and the {@code modulesToSave}.
 *
 * <pre>{@code
 * LoraConfig c = LoraConfig.r(8).alpha(16).dropout(0.1)
 *     .targets("encoder.layers.*.self_attention.out_proj", "encoder.layers.*.mlp.0", "encoder.layers.*.mlp.3")
 *     .modulesToSave("heads.head");
 * }</pre>
 *
 * <p>A target is a glob over module paths ({@code Module.namedModules()}'s keys): {@code *} matches any characters,
 * dots included, {@code ?} one character, and the glob must match the whole path ({@code "mlp.0"} matches only a
 * top-level {@code mlp.0}; {@code "*.mlp.0"} matches it at any depth). Every target must match at least one module,
 * and every module matched must be a {@code Linear}, a {@code Conv2d} or a {@code MultiheadAttention} (whose packed
 * q/k/v projection is adapted; its {@code out_proj} is a Linear target of its own) ({@link Lora#apply} names the
 * offender).
 * {@code modulesToSave} are module paths (exact) whose parameters train fully and are saved with the adapters (the new
 * classifier head, PEFT's {@code modules_to_save}).
 *
 * <p>Defaults of {@link #r(int)}: {@code alpha = 8} and {@code dropout = 0} (PEFT's), no targets yet, nothing to save.
 */
public record LoraConfig(int r, double alpha, double dropout, List<String> targets, List<String> modulesToSave) {
  /** Largest rank accepted: far above any useful LoRA rank, it keeps a typo from allocating a huge adapter. */
  public static final int MAX_R = 1 << 16;

  /**
   * Checks the fields: {@code 1 <= r <= MAX_R}, {@code alpha} finite and positive, {@code dropout} in [0, 1), no empty
   * target or module path; throws {@link GraftException} naming the field otherwise.
   */
  public LoraConfig {
    if (r < 1 || r > MAX_R) {
      throw new GraftException("LoraConfig: r must be in [1, " + MAX_R + "], got " + r);
    }
    if (!(alpha > 0) || !Double.isFinite(alpha)) {
      throw new GraftException("LoraConfig: alpha must be finite and positive, got " + alpha);
    }
    if (!(dropout >= 0 && dropout < 1)) {
      throw new GraftException("LoraConfig: dropout must be in [0, 1), got " + dropout);
    }
    targets = List.copyOf(targets);
    modulesToSave = List.copyOf(modulesToSave);
    for (String t : targets) {
      if (t.isEmpty()) {
        throw new GraftException("LoraConfig: empty target in " + targets);
      }
    }
    for (String t : modulesToSave) {
      if (t.isEmpty()) {
        throw new GraftException("LoraConfig: empty module path in modulesToSave " + modulesToSave);
      }
    }
  }

  /** Rank {@code r} with PEFT's defaults: alpha 8, no dropout, no targets yet, nothing to save. */
  public static LoraConfig r(int r) {
    return new LoraConfig(r, 8, 0, List.of(), List.of());
  }

  /** This config with {@code alpha} (PEFT's {@code lora_alpha}). */
  public LoraConfig alpha(double a) {
    return new LoraConfig(r, a, dropout, targets, modulesToSave);
  }

  /** This config with dropout probability {@code p} on the adapter's input (PEFT's {@code lora_dropout}). */
  public LoraConfig dropout(double p) {
    return new LoraConfig(r, alpha, p, targets, modulesToSave);
  }

  /** This config with the target globs {@code globs} (replacing any given before). */
  public LoraConfig targets(String... globs) {
    return new LoraConfig(r, alpha, dropout, List.of(globs), modulesToSave);
  }

  /** This config with the module paths trained fully and saved with the adapters (PEFT's {@code modules_to_save}). */
  public LoraConfig modulesToSave(String... paths) {
    return new LoraConfig(r, alpha, dropout, targets, List.of(paths));
  }

  /** The factor on the adapter's output: {@code alpha / r} (PEFT without {@code use_rslora}). */
  public double scaling() {
    return alpha / r;
  }

  /**
   * Whether the glob {@code glob} matches the whole module path {@code path} (see the class comment); linear
   * backtracking, so no pattern can make it slow.
   */
  public static boolean matches(String glob, String path) {
    int g = 0;
    int s = 0;
    int star = -1;
    int resume = 0;
    while (s < path.length()) {
      if (g < glob.length() && (glob.charAt(g) == '?' || glob.charAt(g) == path.charAt(s))) {
        g++;
        s++;
      } else if (g < glob.length() && glob.charAt(g) == '*') {
        star = g++;
        resume = s;
      } else if (star >= 0) {
        g = star + 1;
        s = ++resume;
      } else {
        return false;
      }
    }
    while (g < glob.length() && glob.charAt(g) == '*') {
      g++;
    }
    return g == glob.length();
  }
}
