package io.graft.optim;

import io.graft.core.StateDict;
import java.util.List;
import java.util.Map;

/**
 * What {@link Optimizer#stateDict()} returns: the optimizer's type, its per-parameter buffers keyed
 * {@code "<param name>/<buffer>"} ({@code momentum_buffer}, {@code exp_avg}, {@code exp_avg_sq},
 * {@code max_exp_avg_sq}, {@code step}), and each group under PyTorch's {@code param_groups} keys: its options
 * ({@link OptimizerOptions#toStateDict}), the values schedulers keep there ({@code initial_lr}, ...) and the names
 * of its parameters under {@code "params"} (numbers, booleans, {@code double[]} and lists of names: JSON-friendly).
 */
public record OptimizerState(String optimizer, StateDict tensors, List<Map<String, Object>> groups) {}
