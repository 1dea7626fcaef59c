package io.graft.optim;

import java.util.Map;

/**
 * An optimizer's hyperparameters as its own record ({@link SGD.Options}, {@link Adam.Options}): the optimizer's
 * defaults, and what each {@link ParamGroup} holds once it is added. The optimizer reads its group's record
 * directly; schedulers change the learning rate through {@link #withLr}.
 *
 * <p>In a state dict the options appear under PyTorch's {@code param_groups} keys and in torch.optim's order
 * ({@link #toStateDict}), and are read back from them ({@link #withStateDict}).
 */
public interface OptimizerOptions {
  /** The learning rate ({@code lr}). */
  double lr();

  /** These options with another learning rate. */
  OptimizerOptions withLr(double lr);

  /** These options with another weight decay ({@code weight_decay}). */
  OptimizerOptions withWeightDecay(double weightDecay);

  /**
   * The options under PyTorch's keys, in torch.optim's order: numbers as {@code Double}, flags as {@code Boolean},
   * tuples ({@code betas}) as {@code double[]} (JSON-friendly). A new map each time.
   */
  Map<String, Object> toStateDict();

  /**
   * These options with the values that {@code saved} holds under their PyTorch keys (a key it lacks keeps its value
   * here; other keys are not read). A value of the wrong kind is a {@link io.graft.core.GraftException} naming the
   * key. Numbers may be any {@link Number} and tuples any list of numbers, as they come back from JSON.
   */
  OptimizerOptions withStateDict(Map<String, Object> saved);
}
