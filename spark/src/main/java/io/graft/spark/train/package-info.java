/**
 * Synchronous data-parallel training on Spark (DDP semantics, or local SGD) in barrier mode: {@link
 * io.graft.spark.train.DataParallelTrainer} runs the {@link io.graft.finetune.train.Trainer}'s epochs on replicas;
 * {@link io.graft.spark.train.Exchange} swaps their gradients; {@link io.graft.spark.train.StepCheckpoint} lets the
 * driver resume a failed run of steps.
 */
package io.graft.spark.train;
