package io.graft.optim;

import io.graft.core.Parameter;
import java.util.Map;

/**
 * Adam with decoupled weight decay, exactly as torch.optim.AdamW: {@code p = p · (1 − lr · weight_decay)} before
 * the Adam step (which then has no L2 term). PyTorch's default weight decay is 0.01; {@link #defaults(double)}
 * gives those options.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html">torch.optim.AdamW</a>
 */
public final class AdamW extends Adam {
  /** PyTorch's AdamW defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01. */
  public static Options defaults(double lr) {
    return Options.lr(lr).withWeightDecay(1e-2);
  }

  /**
   * AdamW over {@code groups}, each group's unset options taken from {@code defaults} (see {@link #defaults(double)});
   * throws as {@link Adam#Adam(Adam.Options, ParamGroup...)}.
   */
  public AdamW(Options defaults, ParamGroup... groups) {
    super(defaults, true, groups);
  }

  /**
   * AdamW over one group of named parameters (e.g. {@code model.namedParameters()}); throws as {@link
   * Adam#Adam(Adam.Options, ParamGroup...)}.
   */
  public AdamW(Options defaults, Map<String, ? extends Parameter> params) {
    super(defaults, true, ParamGroup.of(params));
  }
}
