/**
 * The training loop ({@link io.graft.finetune.train.Trainer}): an epoch of steps, validation, the scheduler's step,
 * early stopping and keep-best ({@code BestTracker}), listeners, progress bar, metrics log, learning curve,
 * checkpoints with exact resume, and the feature cache.
 */
package io.graft.finetune.train;
