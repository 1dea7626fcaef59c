package io.graft.finetune.cli;

import static io.graft.finetune.cli.GraftCliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code graft predict --spark-master} without graft-spark on the class path (this module's tests never have it):
 * one error line saying what to add, before any model is loaded; and the option combinations it refuses.
 */
class PredictSparkCliTest {
  @TempDir
  Path tmp;

  @Test
  void withoutGraftSparkTheErrorSaysWhatToAdd() {
    GraftCliTest.Result r = run("predict", "--spark-master", "local[2]", "--model", "smallcnn", "--weights",
        tmp.resolve("absent.safetensors").toString(), "--data", tmp.toString(), "--out", tmp.resolve("p").toString());
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().startsWith("graft: error: --spark-master needs graft-spark (io.graft:graft-spark) and Apache "
        + "Spark on the class path"), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
  }

  @Test
  void sparkTakesDataAndOutAndNothingElseTakesData() {
    GraftCliTest.Result r = run("predict", "--spark-master", "local[2]", "--model", "smallcnn", "--images",
        tmp.toString(), "--out", tmp.resolve("p").toString());
    assertEquals(Graft.BAD_INPUT, r.code());
    assertTrue(r.err().contains("--spark-master predicts on the images of --data DIR"), r.err());
    r = run("predict", "--model", "smallcnn", "--weights", "w.pth", "--data", tmp.toString());
    assertEquals(Graft.BAD_INPUT, r.code());
    assertTrue(r.err().contains("--data DIR is read by Spark (with --spark-master URL)"), r.err());
  }
}
