package io.graft.spark.train;

import io.graft.core.GraftException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.UUID;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.BlockManager;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.storage.TempLocalBlockId;
import org.apache.spark.util.io.ChunkedByteBuffer;
import scala.Option;
import scala.reflect.ClassTag$;

/**
 * The vectors go executor to executor through Spark's block manager, with no barrier round per step: the k-th
 * exchange of rank r in a job is a block whose name every rank can compute (a UUID of the job's nonce, k and r), so
 * each rank stores its own and polls the block manager master for the others' until they are there (every
 * {@link #POLL_MICROS} µs, at most {@link #TIMEOUT_SECONDS} s). Spark's {@code barrier()} and {@code allGather()} wait
 * in steps of one second ({@code BarrierTaskContext} polls its RPC with {@code Thread.sleep(1000)}), which is why the
 * other two exchanges cost about a second per round. A rank's block k is removed once it has seen every block k + 1
 * (everyone has fetched block k by then); the last ones after a final {@code barrier()} in {@link #finish}. A block
 * holds the rank's status (UTF-8, length-prefixed) and then its vector.
 */
final class PolledBlockExchange implements Exchange {
  /** The pause between two looks for a missing block. */
  static final int POLL_MICROS = 500;
  /** How long a rank waits for another's block before it gives up with an error. */
  static final int TIMEOUT_SECONDS = 600;

  private final BarrierTaskContext ctx;
  private final String nonce;
  private final int rank;
  private final int world;
  private final Deque<BlockId> mine = new ArrayDeque<>();
  private int seq;

  PolledBlockExchange(BarrierTaskContext ctx, String nonce, int world) {
    this.ctx = ctx;
    this.nonce = nonce;
    this.rank = ctx.partitionId();
    this.world = world;
  }

  private BlockId id(int k, int r) {
    return new TempLocalBlockId(UUID.nameUUIDFromBytes((nonce + "/" + k + "/" + r).getBytes(StandardCharsets.UTF_8)));
  }

  @Override
  public Gathered gather(String status, float[] vector, int length) {
    BlockManager bm = SparkEnv.get().blockManager();
    int k = seq++;
    byte[] st = status.getBytes(StandardCharsets.UTF_8);
    int n = vector == null ? 0 : length;
    ByteBuffer b = ByteBuffer.allocate(4 + st.length + 4 * n).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(st.length).put(st);
    if (n > 0) {
      b.asFloatBuffer().put(vector, 0, n);
    }
    b.rewind();
    BlockId own = id(k, rank);
    if (!bm.putBytes(own, new ChunkedByteBuffer(b), StorageLevel.MEMORY_AND_DISK_SER(), true,
        ClassTag$.MODULE$.apply(byte[].class))) {
      throw new GraftException("block exchange: could not store this replica's vector (" + b.capacity() + " bytes)");
    }
    mine.addLast(own);
    String[] statuses = new String[world];
    float[][] vectors = new float[world][];
    for (int r = 0; r < world; r++) {
      ByteBuffer got;
      if (r == rank) {
        got = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
      } else {
        got = fetch(bm, id(k, r), r);
      }
      byte[] s = new byte[got.getInt()];
      got.get(s);
      statuses[r] = new String(s, StandardCharsets.UTF_8);
      int floats = got.remaining() / 4;
      if (OK.equals(statuses[r])) {
        vectors[r] = new float[floats];
        got.asFloatBuffer().get(vectors[r]);
      }
    }
    while (mine.size() > 1) { // everyone has published block k, so everyone has fetched block k - 1
      bm.removeBlock(mine.removeFirst(), false);
    }
    return new Gathered(statuses, vectors);
  }

  private ByteBuffer fetch(BlockManager bm, BlockId id, int r) {
    long end = System.nanoTime() + TIMEOUT_SECONDS * 1_000_000_000L;
    while (true) {
      ctx.killTaskIfInterrupted(); // the stage failed (another replica's executor died): stop waiting
      Option<ChunkedByteBuffer> got = bm.getRemoteBytes(id);
      if (got.isDefined()) {
        return ByteBuffer.wrap(got.get().toArray()).order(ByteOrder.LITTLE_ENDIAN);
      }
      if (System.nanoTime() > end) {
        throw new GraftException("block exchange: replica " + r + "'s block did not appear within "
            + TIMEOUT_SECONDS + " s");
      }
      java.util.concurrent.locks.LockSupport.parkNanos(POLL_MICROS * 1000L);
    }
  }

  @Override
  public void finish() {
    ctx.barrier(); // everyone has fetched everything: the last blocks can go
    BlockManager bm = SparkEnv.get().blockManager();
    while (!mine.isEmpty()) {
      bm.removeBlock(mine.removeFirst(), false);
    }
  }
}
