package io.graft.spark.train;

import io.graft.core.GraftException;
import org.apache.spark.BarrierTaskContext;

/**
 * How the replicas of a barrier stage swap vectors (gradients, or weights under local SGD) at a step: every rank
 * hands in its status and its vector and gets every rank's back, in rank order. The status is how a replica that
 * failed (bad image, NaN) tells the others: it still takes part in the exchange, with a status other than
 * {@link #OK} and no vector, so no replica waits for one that has given up and the driver gets the error.
 */
public interface Exchange {
  /** The status of a replica whose step went well. */
  String OK = "ok";

  /** Every rank's status and vector (null where its status is not {@link #OK}), indexed by rank. */
  record Gathered(String[] status, float[][] vectors) {
    /** The first status other than {@link #OK}, by rank, or null when every replica is fine. */
    public String firstFailure() {
      for (String s : status) {
        if (!OK.equals(s)) {
          return s;
        }
      }
      return null;
    }
  }

  /**
   * Swaps {@code vector} ({@code length} values; null when {@code status} is not {@link #OK}) with the other ranks.
   * Every rank must call it the same number of times with the same {@code length}.
   */
  Gathered gather(String status, float[] vector, int length);

  /** Called once by every rank after its last exchange of the job. */
  default void finish() {}

  /** The exchanges Graft has, by the name {@code --spark-exchange} takes. */
  enum Kind {
    /** {@link AllGatherExchange}: the vectors themselves through {@code BarrierTaskContext.allGather}. */
    ALL_GATHER,
    /** {@link BlockManagerExchange}: the vectors as blocks in Spark's block manager; only their ids gathered. */
    BLOCK_MANAGER,
    /** {@link PolledBlockExchange}: blocks with names every rank can compute, polled for; no barrier per step. */
    BLOCKS;

    /** The exchange of this kind for the current barrier task of job {@code nonce} with {@code world} ranks. */
    Exchange open(BarrierTaskContext ctx, String nonce, int world) {
      return switch (this) {
        case ALL_GATHER -> new AllGatherExchange(ctx);
        case BLOCK_MANAGER -> new BlockManagerExchange(ctx);
        case BLOCKS -> new PolledBlockExchange(ctx, nonce, world);
      };
    }

    /** The kind named {@code s} ({@code all-gather}, {@code block-manager} or {@code blocks}). */
    public static Kind parse(String s) {
      return switch (s) {
        case "all-gather" -> ALL_GATHER;
        case "block-manager" -> BLOCK_MANAGER;
        case "blocks" -> BLOCKS;
        default -> throw new GraftException("unknown exchange '" + s + "'; expected blocks, all-gather or "
            + "block-manager");
      };
    }
  }
}
