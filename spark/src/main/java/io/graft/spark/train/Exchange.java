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

  /** The exchanges Graft has, by the name {@code --spark-exchange} takes. */
  enum Kind {
    /** {@link AllGatherExchange}: the vectors themselves through {@code BarrierTaskContext.allGather}. */
    ALL_GATHER,
    /** {@link BlockManagerExchange}: the vectors as blocks in Spark's block manager; only their ids gathered. */
    BLOCK_MANAGER;

    /** The exchange of this kind for the current barrier task. */
    Exchange open(BarrierTaskContext ctx) {
      return this == ALL_GATHER ? new AllGatherExchange(ctx) : new BlockManagerExchange(ctx);
    }

    /** The kind named {@code s} ({@code all-gather} or {@code block-manager}). */
    public static Kind parse(String s) {
      return switch (s) {
        case "all-gather" -> ALL_GATHER;
        case "block-manager" -> BLOCK_MANAGER;
        default -> throw new GraftException("unknown exchange '" + s + "'; expected all-gather or block-manager");
      };
    }
  }
}
