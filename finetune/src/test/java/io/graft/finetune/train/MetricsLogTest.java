package io.graft.finetune.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CSV beside the metrics log: header, one row per epoch, empty cells for missing values, lr per group. */
class MetricsLogTest {
  @TempDir
  Path tmp;

  static EpochStats epoch(int e, double valLoss, double... lr) {
    return new EpochStats(e, 1.5 - e, 40 + e, valLoss, Double.isNaN(valLoss) ? Double.NaN : 50, Double.NaN, null,
        null, lr, 2.25, 100.0 / 3, false);
  }

  @Test
  void theCsvHasOneRowPerEpochAndEmptyCellsWhereNothingWasMeasured() throws Exception {
    Path log = tmp.resolve("metrics.jsonl");
    MetricsLog.write(log, List.of(epoch(0, Double.NaN, 0.1), epoch(1, Double.NaN, 0.05)));
    List<String> csv = Files.readAllLines(tmp.resolve("metrics.csv"));
    assertEquals(List.of("epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_top5,lr,seconds,"
            + "images_per_second,feature_cache",
        "1,1.5,40.0,,,,0.1,2.25," + 100.0 / 3 + ",false",
        "2,0.5,41.0,,,,0.05,2.25," + 100.0 / 3 + ",false"), csv);
    assertEquals(2, Files.readAllLines(log).size());
  }

  @Test
  void severalParamGroupsGiveOneLrColumnEach() {
    String csv = MetricsLog.csv(List.of(epoch(0, 0.75, 0.1, 0.01, 0.001)));
    assertEquals("epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_top5,lr_0,lr_1,lr_2,seconds,"
        + "images_per_second,feature_cache\n1,1.5,40.0,0.75,50.0,,0.1,0.01,0.001,2.25," + 100.0 / 3 + ",false\n", csv);
  }

  @Test
  void theCsvPathReplacesTheExtension() {
    assertEquals(tmp.resolve("metrics.csv"), MetricsLog.csvPath(tmp.resolve("metrics.jsonl")));
    assertEquals(tmp.resolve("log.csv"), MetricsLog.csvPath(tmp.resolve("log")));
    assertNull(MetricsLog.csvPath(tmp.resolve("table.csv")), "a log named .csv is not overwritten by its table");
  }
}
