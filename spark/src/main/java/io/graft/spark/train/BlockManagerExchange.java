package io.graft.spark.train;

import io.graft.core.GraftException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
 * The vectors go executor to executor through Spark's block manager: each rank stores its vector as a block in its
 * own executor's block manager (registered with the driver's block manager master), {@code allGather}s only the
 * block's name, fetches the other ranks' blocks (Spark's block transfer service; a block on the same executor is
 * read locally) and, after a {@code barrier()} that says everyone has fetched, removes its block. Two small
 * coordinator rounds per exchange; the payload never passes through the driver.
 */
final class BlockManagerExchange implements Exchange {
  private final BarrierTaskContext ctx;

  BlockManagerExchange(BarrierTaskContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public Gathered gather(String status, float[] vector, int length) {
    BlockManager bm = SparkEnv.get().blockManager();
    BlockId id = null;
    if (vector != null && length > 0) {
      ByteBuffer b = ByteBuffer.allocate(4 * length).order(ByteOrder.LITTLE_ENDIAN);
      b.asFloatBuffer().put(vector, 0, length);
      id = new TempLocalBlockId(UUID.randomUUID());
      if (!bm.putBytes(id, new ChunkedByteBuffer(b), StorageLevel.MEMORY_AND_DISK_SER(), true,
          ClassTag$.MODULE$.apply(byte[].class))) {
        throw new GraftException("block-manager exchange: could not store this replica's vector (" + 4L * length
            + " bytes) in the executor's block manager");
      }
    }
    String[] got = ctx.allGather(status + "\n" + (id == null ? "" : id.name()));
    String[] statuses = new String[got.length];
    float[][] vectors = new float[got.length][];
    try {
      for (int k = 0; k < got.length; k++) {
        int nl = got[k].indexOf('\n');
        statuses[k] = got[k].substring(0, nl);
        if (!OK.equals(statuses[k])) {
          continue;
        }
        if (length == 0) {
          vectors[k] = new float[0];
          continue;
        }
        if (k == ctx.partitionId()) {
          vectors[k] = vector.clone();
          continue;
        }
        BlockId other = BlockId.apply(got[k].substring(nl + 1));
        Option<ChunkedByteBuffer> bytes = bm.getRemoteBytes(other);
        if (bytes.isEmpty()) {
          throw new GraftException("block-manager exchange: replica " + k + "'s block " + other.name()
              + " could not be fetched");
        }
        byte[] raw = bytes.get().toArray();
        vectors[k] = new float[length];
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(vectors[k]);
      }
    } finally {
      ctx.barrier(); // everyone has fetched: the blocks can go
      if (id != null) {
        bm.removeBlock(id, true);
      }
    }
    return new Gathered(statuses, vectors);
  }
}
