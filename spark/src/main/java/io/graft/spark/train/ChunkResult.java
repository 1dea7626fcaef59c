package io.graft.spark.train;

import java.io.Serializable;

/**
 * What one replica sends back from a run of steps: its state at the end (null after a failure), the training
 * metrics of its shards (loss sum, example count, confusion matrix, top-5 hits), the time it spent computing and
 * exchanging, and the failure that stopped the replicas, if any (the same on every replica).
 */
record ChunkResult(int rank, byte[] state, double lossSum, long count, long[][] confusion, long top5,
    long computeNanos, long exchangeNanos, int steps, String failure) implements Serializable {}
