package io.graft.finetune.train;

import io.graft.core.GraftException;
import java.nio.file.Path;
import java.util.ServiceLoader;

/**
 * Data-parallel training on a cluster, found with {@link ServiceLoader} so that the {@code graft} command line does
 * not depend on the engine that provides it (graft-spark implements it for {@code --spark-master}).
 */
public interface DataParallelBackend {
  /**
   * Where and how to train: the cluster's {@code master} URL, the number of {@code workers} (replicas), a driver
   * checkpoint every {@code checkpointEvery} steps to {@code checkpoint} (0 or null: none), parameter averaging every
   * {@code localSgdEvery} steps instead of a gradient average every step (0: gradient averaging, as DDP), and the
   * gradient {@code exchange} by name (null: the backend's default), and whether to {@code resume} an epoch from the
   * checkpoint when it was cut inside that epoch.
   */
  record Settings(String master, int workers, int checkpointEvery, Path checkpoint, int localSgdEvery,
      String exchange, boolean resume) {}

  /** An {@link EpochRunner} holding cluster resources until closed. */
  interface Runner extends EpochRunner, AutoCloseable {
    @Override
    void close();
  }

  /** Connects to the cluster; {@code factory} builds each worker's replica. */
  Runner open(Settings settings, Replica.Factory factory);

  /**
   * The backend on the class path; throws {@link GraftException} naming {@code option} when there is none (graft-spark
   * is not on the class path).
   */
  static DataParallelBackend find(String option) {
    for (DataParallelBackend b : ServiceLoader.load(DataParallelBackend.class)) {
      return b;
    }
    throw new GraftException(option + " needs graft-spark (io.graft:graft-spark and Spark 4.x) on the class path; "
        + "this graft has no data-parallel backend");
  }
}
