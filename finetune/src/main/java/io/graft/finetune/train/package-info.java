/**
 * The training loop ({@link io.graft.finetune.train.Trainer}): validation metrics, early stopping, keep-best,
 * listeners, progress bar, metrics log, learning curve, checkpoints with exact resume, and the feature cache.
 */
package io.graft.finetune.train;
