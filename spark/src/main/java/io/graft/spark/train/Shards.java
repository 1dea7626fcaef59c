package io.graft.spark.train;

import io.graft.core.GraftException;
import java.util.Arrays;

/**
 * Which examples each replica trains on at a step, as PyTorch's {@code DistributedSampler} does it: one global order
 * per epoch (the training loader's seeded permutation, the same on every replica), cut into global batches of the
 * loader's batch size, and each global batch split into {@code world} contiguous shards, in rank order, as equal as
 * can be (the first {@code size % world} ranks get one more). A restarted run therefore sees the same shards.
 */
public final class Shards {
  private Shards() {}

  /**
   * The dataset indices of rank {@code rank}'s shard of global batch {@code step} of an epoch whose example order is
   * {@code order}; empty when the batch has fewer examples than there are ranks and this rank gets none.
   */
  public static int[] of(int[] order, int step, int globalBatch, int rank, int world) {
    if (globalBatch < 1 || world < 1 || rank < 0 || rank >= world || step < 0) {
      throw new GraftException("Shards.of: need globalBatch >= 1, world >= 1, 0 <= rank < world, step >= 0; got "
          + "globalBatch " + globalBatch + ", world " + world + ", rank " + rank + ", step " + step);
    }
    long start = (long) step * globalBatch;
    if (start >= order.length) {
      throw new GraftException("Shards.of: step " + step + " starts at example " + start + " but the epoch has "
          + order.length);
    }
    int size = (int) Math.min(globalBatch, order.length - start);
    int base = size / world;
    int extra = size % world;
    int from = (int) start + rank * base + Math.min(rank, extra);
    int n = base + (rank < extra ? 1 : 0);
    return Arrays.copyOfRange(order, from, from + n);
  }
}
