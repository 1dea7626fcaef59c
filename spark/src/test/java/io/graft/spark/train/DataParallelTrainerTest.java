package io.graft.spark.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.finetune.train.Replica;
import io.graft.finetune.train.Trainer;
import io.graft.spark.SparkSessions;
import io.graft.testing.Fixtures;
import java.nio.file.Path;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel training on {@code local[2]}: against PyTorch DDP (tools/ddp_reference.py: smallcnn with BatchNorm,
 * 3 SGD-momentum steps, global batch 32 split 16/16), and without BatchNorm against a single-process run with the
 * global batch (Graft against Graft), for DDP, local SGD every step, the three exchanges and a run cut into checkpointed
 * pieces.
 */
class DataParallelTrainerTest {
  static final String FIXTURE = "fixtures/ddp/smallcnn_bn_ddp.safetensors";
  static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkSessions.start("local[2]", "graft-spark tests");
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  /** Trains {@code epochs} epochs with the runner (null: single-process) and returns the model's state. */
  static StateDict train(Replica.Factory f, DataParallelTrainer runner, int epochs) {
    return train(f.build(), runner, epochs);
  }

  /** Trains {@code epochs} epochs of the driver's replica {@code r} with the runner (null: single-process). */
  static StateDict train(Replica r, DataParallelTrainer runner, int epochs) {
    Trainer t = new Trainer(r.model(), r.optimizer(), null, r.loss(),
        Trainer.Options.epochs(epochs).withKeepBest(false).withFeatureCache(false));
    if (runner != null) {
      t.trainEpochsWith(runner);
    }
    t.fit(r.train(), null);
    return FixtureReplica.copy(r.model());
  }

  static double maxDiff(Tensor a, Tensor b) {
    return a.data().castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)
        .sub(b.data().castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)).amaxNumber().doubleValue();
  }

  @Test
  void matchesPyTorchDdpWithBatchNorm() {
    Path fix = Fixtures.path(FIXTURE);
    Safetensors.File ref = Safetensors.open(fix);
    DataParallelTrainer dp = new DataParallelTrainer(spark, false, new FixtureReplica(fix.toString(), true, 32, false),
        DataParallelTrainer.Options.workers(2), null);
    StateDict got = train(new FixtureReplica(fix.toString(), true, 32, false), dp, 1);
    StateDict want = ref.tensors().withPrefixStripped("final/");
    assertEquals(want.keys(), got.keys());
    double params = 0;
    double buffers = 0;
    for (Map.Entry<String, Tensor> e : want) {
      Tensor g = got.get(e.getKey());
      if (e.getKey().endsWith("num_batches_tracked")) {
        assertEquals(3, g.data().getLong(0), e.getKey());
      } else if (e.getKey().contains("running_")) {
        // the existing fixtures' tolerance for buffers (LayersParityTest: rtol 1e-5, atol 1e-5)
        double tol = 1e-5 + 1e-5 * e.getValue().data().amaxNumber().doubleValue();
        assertTrue(maxDiff(g, e.getValue()) <= tol, e.getKey() + " differs by " + maxDiff(g, e.getValue()));
        buffers = Math.max(buffers, maxDiff(g, e.getValue()));
      } else {
        params = Math.max(params, maxDiff(g, e.getValue()));
      }
    }
    System.out.println("DDP reference: max |param diff| = " + params + ", max |BN buffer diff| = " + buffers);
    assertTrue(params <= 1e-5, "parameters differ from PyTorch DDP by " + params);
  }

  @Test
  void withoutBatchNormEqualsOneProcessWithTheGlobalBatch() {
    Path fix = Fixtures.path(FIXTURE);
    FixtureReplica f = new FixtureReplica(fix.toString(), false, 32, true);
    StateDict single = train(f, null, 2);
    StateDict ddp = train(f, new DataParallelTrainer(spark, false, f, DataParallelTrainer.Options.workers(2), null), 2);
    StateDict blocks = train(f, new DataParallelTrainer(spark, false, f, DataParallelTrainer.Options.workers(2)
        .withExchange(Exchange.Kind.BLOCK_MANAGER), null), 2);
    StateDict allGather = train(f, new DataParallelTrainer(spark, false, f, DataParallelTrainer.Options.workers(2)
        .withExchange(Exchange.Kind.ALL_GATHER), null), 2);
    StateDict localSgd = train(f, new DataParallelTrainer(spark, false, f, DataParallelTrainer.Options.workers(2)
        .withLocalSgd(1), null), 2);
    double d = 0;
    double moved = 0;
    StateDict init = FixtureReplica.copy(f.build().model());
    for (Map.Entry<String, Tensor> e : single) {
      d = Math.max(d, maxDiff(ddp.get(e.getKey()), e.getValue()));
      d = Math.max(d, maxDiff(localSgd.get(e.getKey()), e.getValue()));
      // the three exchanges carry the same floats: the same result bit for bit
      assertEquals(0.0, maxDiff(blocks.get(e.getKey()), ddp.get(e.getKey())), e.getKey());
      assertEquals(0.0, maxDiff(allGather.get(e.getKey()), ddp.get(e.getKey())), e.getKey());
      moved = Math.max(moved, maxDiff(init.get(e.getKey()), e.getValue()));
    }
    System.out.println("2 x 16 against 1 x 32: max |param diff| = " + d + " (weights moved by " + moved + ")");
    assertTrue(moved > 1e-3, "training changed nothing");
    assertTrue(d <= 1e-6, "the data-parallel run differs from the single-process one by " + d);
  }

  @Test
  void checkpointedPiecesGiveTheSameResultAsOneJob(@TempDir Path dir) {
    Path fix = Fixtures.path(FIXTURE);
    FixtureReplica f = new FixtureReplica(fix.toString(), true, 32, true);
    StateDict whole = train(f, new DataParallelTrainer(spark, false, f, DataParallelTrainer.Options.workers(2), null),
        2);
    Path ck = dir.resolve("steps.ckpt");
    DataParallelTrainer pieces = new DataParallelTrainer(spark, false, f, DataParallelTrainer.Options.workers(2)
        .withCheckpoint(ck, 1), null);
    StateDict cut = train(f, pieces, 2);
    for (Map.Entry<String, Tensor> e : whole) {
      assertEquals(0.0, maxDiff(cut.get(e.getKey()), e.getValue()), e.getKey());
    }
    StepCheckpoint.Saved saved = StepCheckpoint.read(ck);
    assertEquals(1, saved.epoch());
    assertEquals(3, saved.step());
    assertEquals(2, saved.states().size());
    // before the epoch-end average the replicas' BatchNorm statistics differ and their weights do not: the
    // checkpoint stores replica 1's statistics and none of its weights
    java.util.Set<String> keys = Safetensors.open(ck).tensors().keys();
    assertTrue(keys.contains("replica1/model/features.1.running_mean"), keys.toString());
    assertTrue(keys.contains("replica0/model/features.0.weight"), keys.toString());
    assertTrue(keys.stream().noneMatch(k -> k.startsWith("replica1/model/features.0.weight")
        || k.startsWith("replica1/optim/")), keys.toString());
  }

  @Test
  void aDriverStoppedInsideAnEpochResumesFromItsStepCheckpoint(@TempDir Path dir) {
    Path fix = Fixtures.path(FIXTURE);
    FixtureReplica f = new FixtureReplica(fix.toString(), true, 32, true);
    StateDict whole = train(f, new DataParallelTrainer(spark, false, f, DataParallelTrainer.Options.workers(2), null),
        2);
    Path ck = dir.resolve("steps.ckpt");
    // every image read fails once the first step checkpoint exists: the run stops inside epoch 1 with the file named
    FixtureReplica failing = new FixtureReplica(fix.toString(), true, 32, true, ck.toString(), null);
    GraftException e = assertThrows(GraftException.class, () -> train(f, new DataParallelTrainer(spark, false,
        failing, DataParallelTrainer.Options.workers(2).withCheckpoint(ck, 1), null), 2));
    assertTrue(e.getMessage().contains("cannot read example ") && e.getMessage().contains("epoch 1"),
        e.getMessage());
    StepCheckpoint.Saved cut = StepCheckpoint.read(ck);
    assertEquals(0, cut.epoch());
    assertEquals(1, cut.step());
    DataParallelTrainer resumed = new DataParallelTrainer(spark, false, f, DataParallelTrainer.Options.workers(2)
        .withCheckpoint(ck, 1).withResume(true), null);
    StateDict again = train(f, resumed, 2);
    for (Map.Entry<String, Tensor> x : whole) {
      assertEquals(0.0, maxDiff(again.get(x.getKey()), x.getValue()), x.getKey());
    }
  }
}
