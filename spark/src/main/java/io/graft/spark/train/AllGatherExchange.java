package io.graft.spark.train;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import org.apache.spark.BarrierTaskContext;

/**
 * The vectors go through the barrier coordinator on the driver: {@code BarrierTaskContext.allGather} of their bytes
 * (Base64, since allGather carries strings), in rounds of at most {@link #CHUNK_BYTES} bytes per rank so that one
 * round's message stays far below Spark's RPC limit ({@code spark.rpc.message.maxSize}, 128 MiB). Every round passes
 * through the driver: it receives W messages and sends W x W back.
 */
final class AllGatherExchange implements Exchange {
  /** Bytes of a rank's vector per allGather round (4 MiB; Base64 makes them 5.3 MiB of text). */
  static final int CHUNK_BYTES = 4 << 20;

  private final BarrierTaskContext ctx;

  AllGatherExchange(BarrierTaskContext ctx) {
    this.ctx = ctx;
  }

  private static String chunk(ByteBuffer mine, int r, long total) {
    if (mine == null) {
      return "";
    }
    int from = (int) Math.min(total, (long) r * CHUNK_BYTES);
    int to = (int) Math.min(total, (long) (r + 1) * CHUNK_BYTES);
    return Base64.getEncoder().encodeToString(java.util.Arrays.copyOfRange(mine.array(), from, to));
  }

  @Override
  public Gathered gather(String status, float[] vector, int length) {
    long total = 4L * length;
    int rounds = (int) Math.max(1, (total + CHUNK_BYTES - 1) / CHUNK_BYTES);
    ByteBuffer mine = null;
    if (vector != null) {
      mine = ByteBuffer.allocate(4 * length).order(ByteOrder.LITTLE_ENDIAN);
      mine.asFloatBuffer().put(vector, 0, length);
    }
    // round 0 carries each rank's status and its number of rounds; all take part in the largest number, so a
    // replica that failed before it knew the vector's length (it sends 0) never leaves the others waiting
    String[] got = ctx.allGather(status + "\n" + rounds + "\n" + chunk(mine, 0, total));
    int world = got.length;
    String[] status0 = new String[world];
    ByteBuffer[] all = new ByteBuffer[world];
    int maxRounds = rounds;
    for (int k = 0; k < world; k++) {
      String[] f = got[k].split("\n", 3);
      status0[k] = f[0];
      maxRounds = Math.max(maxRounds, Integer.parseInt(f[1]));
      got[k] = f[2];
      all[k] = OK.equals(status0[k]) && OK.equals(status)
          ? ByteBuffer.allocate((int) total).order(ByteOrder.LITTLE_ENDIAN) : null;
    }
    for (int r = 0; r < maxRounds; r++) {
      if (r > 0) {
        got = ctx.allGather(r < rounds ? chunk(mine, r, total) : "");
      }
      for (int k = 0; k < world; k++) {
        if (all[k] != null) {
          all[k].put(Base64.getDecoder().decode(got[k]));
        }
      }
    }
    float[][] vectors = new float[all.length][];
    for (int k = 0; k < all.length; k++) {
      if (all[k] != null) {
        all[k].flip();
        vectors[k] = new float[length];
        all[k].asFloatBuffer().get(vectors[k]);
      }
    }
    return new Gathered(status0, vectors);
  }
}
