package io.graft.spark.train;

import io.graft.finetune.train.DataParallelBackend;
import io.graft.finetune.train.Replica;
import io.graft.spark.SparkSessions;

/**
 * graft-spark's {@link DataParallelBackend} (registered in {@code META-INF/services}): a {@link DataParallelTrainer}
 * on a session Graft starts for the master URL ({@link SparkSessions#start}) and stops when closed.
 */
public final class SparkDataParallelBackend implements DataParallelBackend {
  /** The backend, as {@link java.util.ServiceLoader} makes it. */
  public SparkDataParallelBackend() {}

  @Override
  public Runner open(Settings s, Replica.Factory factory) {
    DataParallelTrainer.Options o = DataParallelTrainer.Options.workers(s.workers())
        .withLocalSgd(s.localSgdEvery())
        .withExchange(s.exchange() == null ? Exchange.Kind.BLOCKS : Exchange.Kind.parse(s.exchange()))
        .withResume(s.resume());
    if (s.checkpointEvery() > 0) {
      o = o.withCheckpoint(s.checkpoint(), s.checkpointEvery());
    }
    org.apache.spark.sql.SparkSession spark = SparkSessions.start(s.master(), "graft finetune");
    spark.sparkContext().setLogLevel("WARN"); // Spark's INFO lines are not the user's business
    return new DataParallelTrainer(spark, true, factory, o, m -> System.err.println("graft: " + m));
  }
}
