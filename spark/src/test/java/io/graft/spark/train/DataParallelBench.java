package io.graft.spark.train;

import io.graft.core.init.Init;
import io.graft.core.random.Rng;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.data.Dataset;
import io.graft.finetune.data.Example;
import io.graft.finetune.data.Image;
import io.graft.finetune.train.Replica;
import io.graft.finetune.train.Trainer;
import io.graft.layers.Module;
import io.graft.layers.loss.CrossEntropyLoss;
import io.graft.optim.SGD;
import io.graft.zoo.models.Zoo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.sql.SparkSession;

/**
 * The per-step measurement of docs/distributed.md (not a test; run by tools/bench/spark_dp_bench.sh):
 * {@code single MODEL SIZE BATCH STEPS} trains one process on global batches of {@code BATCH} (the kernels' threads
 * come from OMP_NUM_THREADS); {@code local MODEL SIZE BATCH STEPS EXCHANGE} trains 2 replicas on {@code local[2]}
 * with {@code BATCH} images each; {@code cluster ...} the same on a standalone cluster of a Master and two one-core
 * Workers (separate JVMs, one executor each, OMP_NUM_THREADS=1). Prints the mean step time, and for the data-parallel
 * runs its split into compute and exchange (slowest replica), over the steps after the first epoch (warm-up).
 */
public final class DataParallelBench {
  private DataParallelBench() {}

  /** Synthetic images: {@code n} random {@code c x size x size} images in 10 classes. */
  record Synthetic(int n, int c, int size) implements Dataset {
    @Override
    public int size() {
      return n;
    }

    @Override
    public Example get(int i) {
      Rng r = new Rng(i);
      float[] d = new float[c * size * size];
      for (int k = 0; k < d.length; k++) {
        d[k] = (float) r.nextGaussian();
      }
      return new Example(new Image(c, size, size, d), i % 10);
    }

    @Override
    public List<String> classes() {
      return IntStream.range(0, 10).mapToObj(String::valueOf).toList();
    }
  }

  /** The bench's replica: {@code model} with 10 classes, SGD with momentum, synthetic data. */
  record Bench(String model, int size, int globalBatch, int steps) implements Replica.Factory {
    @Override
    public Replica build() {
      Init.manualSeed(3);
      Module m = Zoo.create(model, 10);
      int c = model.equals("smallcnn") ? 1 : 3;
      return new Replica(m, new SGD(SGD.Options.lr(0.01).withMomentum(0.9), m.namedParameters()),
          new CrossEntropyLoss(), new DataLoader(new Synthetic(globalBatch * steps, c, size), null,
          DataLoader.Options.batch(globalBatch).withWorkers(0)));
    }
  }

  /** See the class comment. */
  public static void main(String[] a) throws Exception {
    String mode = a[0];
    String model = a[1];
    int size = Integer.parseInt(a[2]);
    int batch = Integer.parseInt(a[3]);
    int steps = Integer.parseInt(a[4]);
    if (mode.equals("single")) {
      Bench b = new Bench(model, size, batch, steps);
      Replica r = b.build();
      Trainer t = new Trainer(r.model(), r.optimizer(), null, r.loss(),
          Trainer.Options.epochs(2).withKeepBest(false).withFeatureCache(false));
      long[] start = new long[1];
      t.addListener(new io.graft.finetune.train.TrainListener() {
        @Override
        public void onEpochStart(int epoch) {
          start[0] = System.nanoTime();
        }

        @Override
        public void onEpochEnd(io.graft.finetune.train.EpochStats s) {
          System.out.printf("single %s %d^2 batch %d, %s threads: epoch %d %.1f ms/step%n", model, size, batch,
              System.getenv("OMP_NUM_THREADS"), s.epoch() + 1, (System.nanoTime() - start[0]) / 1e6 / steps);
        }
      });
      t.fit(r.train(), null);
      return;
    }
    Exchange.Kind kind = Exchange.Kind.parse(a[5]);
    Bench b = new Bench(model, size, 2 * batch, steps);
    List<Process> cluster = new ArrayList<>();
    SparkSession spark;
    if (mode.equals("local")) {
      spark = io.graft.spark.SparkSessions.start("local[2]", "bench");
    } else {
      Path dir = Files.createTempDirectory("graft-bench");
      Path home = StandaloneClusterTest.sparkHome(dir);
      int port = StandaloneClusterTest.freePort();
      String url = "spark://127.0.0.1:" + port;
      cluster.add(StandaloneClusterTest.start(home, dir.resolve("master.log"), "org.apache.spark.deploy.master.Master",
          "--host", "127.0.0.1", "--port", String.valueOf(port), "--webui-port",
          String.valueOf(StandaloneClusterTest.freePort())));
      for (int w = 0; w < 2; w++) {
        cluster.add(StandaloneClusterTest.start(home, dir.resolve("worker" + w + ".log"),
            "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "1", "--memory", "3g",
            "--webui-port", String.valueOf(StandaloneClusterTest.freePort()), "--work-dir",
            Files.createDirectories(dir.resolve("work" + w)).toString()));
      }
      spark = StandaloneClusterTest.session(url, "2g", "1");
    }
    try {
      while (spark.sparkContext().statusTracker().getExecutorInfos().length < 3 && !mode.equals("local")) {
        Thread.sleep(200);
      }
      Replica r = b.build();
      DataParallelTrainer dp = new DataParallelTrainer(spark, false, b,
          DataParallelTrainer.Options.workers(2).withExchange(kind), null);
      Trainer t = new Trainer(r.model(), r.optimizer(), null, r.loss(),
          Trainer.Options.epochs(2).withKeepBest(false).withFeatureCache(false)).trainEpochsWith(dp);
      long[] start = new long[1];
      t.addListener(new io.graft.finetune.train.TrainListener() {
        @Override
        public void onEpochStart(int epoch) {
          start[0] = System.nanoTime();
        }

        @Override
        public void onEpochEnd(io.graft.finetune.train.EpochStats s) {
          DataParallelTrainer.StepTimes st = dp.lastStepTimes();
          System.out.printf("%s %s %d^2 2 x %d, %s: epoch %d %.1f ms/step (job wall), compute %.1f ms, exchange %.1f "
              + "ms per step%n", mode, model, size, batch, a[5], s.epoch() + 1,
              (System.nanoTime() - start[0]) / 1e6 / steps, st.computeMs(), st.exchangeMs());
        }
      });
      t.fit(r.train(), null);
    } finally {
      spark.stop();
      for (Process p : cluster) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
      }
    }
  }
}
