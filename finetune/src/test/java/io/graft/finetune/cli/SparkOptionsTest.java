package io.graft.finetune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --spark-*} without graft-spark on the class path, and the flags' checks. */
class SparkOptionsTest {
  @TempDir
  Path tmp;

  @Test
  void sparkMasterWithoutGraftSparkSaysWhatIsMissing() throws Exception {
    Path data = TinyImageFolder.make(tmp.resolve("d"), java.util.Map.of("train", FinetuneCliTest.counts(2, "bag",
        "dress"), "val", FinetuneCliTest.counts(1, "bag", "dress")));
    GraftCliTest.Result r = GraftCliTest.run("finetune", "--model", "smallcnn", "--strategy", "scratch", "--data",
        data.toString(), "--epochs", "1", "--no-progress", "--out", tmp.resolve("o").toString(), "--spark-master",
        "local[2]");
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("--spark-master needs graft-spark"), r.err());
  }

  @Test
  void sparkFlagsNeedAMaster() throws Exception {
    Path data = TinyImageFolder.make(tmp.resolve("d"), java.util.Map.of("train", FinetuneCliTest.counts(2, "bag",
        "dress"), "val", FinetuneCliTest.counts(1, "bag", "dress")));
    GraftCliTest.Result r = GraftCliTest.run("finetune", "--model", "smallcnn", "--strategy", "scratch", "--data",
        data.toString(), "--epochs", "1", "--no-progress", "--out", tmp.resolve("o").toString(),
        "--spark-local-sgd", "4");
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("need --spark-master"), r.err());
  }

  @Test
  void localSlots() {
    assertEquals(1, SparkOptions.localSlots("local"));
    assertEquals(3, SparkOptions.localSlots("local[3]"));
    assertEquals(4, SparkOptions.localSlots("local[4,2]"));
    assertEquals(2, SparkOptions.localSlots("spark://h:7077"));
  }
}
