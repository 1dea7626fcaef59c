package io.graft.spark.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

/** spark-submit's master reaches predict and finetune as --spark-master, unless one is given. */
class GraftSparkMainTest {
  @Test
  void addsSparkSubmitsMasterToPredictAndFinetune() {
    assertArrayEquals(new String[] {"-v", "predict", "--spark-master", "yarn", "--data", "d"},
        GraftSparkMain.withMaster(new String[] {"-v", "predict", "--data", "d"}, "yarn"));
    assertArrayEquals(new String[] {"finetune", "--spark-master", "spark://h:7077"},
        GraftSparkMain.withMaster(new String[] {"finetune"}, "spark://h:7077"));
    String[] given = {"predict", "--spark-master=local[2]"};
    assertArrayEquals(given, GraftSparkMain.withMaster(given, "yarn"));
    String[] other = {"inspect", "x.pth"};
    assertArrayEquals(other, GraftSparkMain.withMaster(other, "yarn"));
    String[] none = {"predict", "--data", "d"};
    assertArrayEquals(none, GraftSparkMain.withMaster(none, null));
  }
}
