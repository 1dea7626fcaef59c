package io.graft.spark.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.core.random.Rng;
import io.graft.finetune.cli.Graft;
import io.graft.spark.train.StepCheckpoint;
import io.graft.zoo.models.Zoo;
import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code graft finetune --spark-master local[2]} end to end on a tiny ImageFolder: the same outputs as a
 * single-process run (metrics.json with its history, model.safetensors), the driver's step checkpoint, frozen
 * parameters untouched under {@code last-K}, and a clear error naming the file for a broken image.
 */
class FinetuneOnSparkTest {
  @TempDir
  Path tmp;

  @AfterAll
  static void stopSpark() {
    SparkSession.getActiveSession().foreach(s -> {
      s.stop();
      return null;
    });
  }

  record Result(int code, String out, String err) {}

  static Result run(List<String> args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Graft.execute(new PrintWriter(out), new PrintWriter(err), args.toArray(String[]::new));
    return new Result(code, out.toString(), err.toString());
  }

  /** An ImageFolder with train/ and val/ of {@code n} 28x28 grey PNGs per class, a class a brightness. */
  static Path folder(Path root, int n) throws Exception {
    Rng rng = new Rng(5);
    String[] classes = {"a", "b", "c"};
    for (String split : List.of("train", "val")) {
      for (int k = 0; k < classes.length; k++) {
        Path d = Files.createDirectories(root.resolve(split).resolve(classes[k]));
        for (int i = 0; i < n; i++) {
          BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
          for (int y = 0; y < 28; y++) {
            for (int x = 0; x < 28; x++) {
              int v = Math.min(255, 60 * k + (int) (rng.nextDouble() * 80));
              img.getRaster().setSample(x, y, 0, v);
            }
          }
          ImageIO.write(img, "png", d.resolve(i + ".png").toFile());
        }
      }
    }
    return root;
  }

  static Path weights(Path dir) {
    io.graft.core.init.Init.manualSeed(1);
    Path w = dir.resolve("smallcnn.safetensors");
    Safetensors.write(w, Zoo.create("smallcnn", 5).stateDict(), Map.of());
    return w;
  }

  List<String> finetune(Path data, Path out, String... extra) {
    List<String> a = new ArrayList<>(List.of("finetune", "--model", "smallcnn", "--weights",
        weights(tmp).toString(), "--data", data.toString(), "--batch-size", "8", "--epochs", "2", "--lr", "0.05",
        "--no-progress", "--workers", "0", "--out", out.toString()));
    a.addAll(List.of(extra));
    return a;
  }

  @Test
  void finetuneOnLocal2WritesTheUsualOutputsAndKeepsFrozenWeights() throws Exception {
    Path data = folder(tmp.resolve("data"), 6);
    Path out = tmp.resolve("out");
    Result r = run(finetune(data, out, "--strategy", "last-1", "--spark-master", "local[2]",
        "--spark-checkpoint-every", "2"));
    assertEquals(0, r.code(), r.err() + r.out());
    JsonNode m = new ObjectMapper().readTree(out.resolve("metrics.json").toFile());
    assertEquals(2, m.get("history").size());
    assertEquals("local[2]", m.get("config").get("options").get("spark-master").asText(),
        m.get("config").toString());
    assertTrue(Double.isFinite(m.get("history").get(1).get("train_loss").asDouble()), m.toString());
    StateDict trained = Safetensors.read(out.resolve("model.safetensors"));
    StateDict initial = Safetensors.read(weights(tmp));
    // last-1: smallcnn's last stage (fc1) and the head train; the features are frozen, never exchanged or updated
    for (String k : List.of("features.0.weight", "features.4.weight", "features.1.running_mean")) {
      assertEquals(0.0, diff(trained.get(k), initial.get(k)), k + " changed although frozen");
    }
    assertTrue(diff(trained.get("fc1.weight"), initial.get("fc1.weight")) > 0, "fc1 did not train");
    StepCheckpoint.Saved ck = StepCheckpoint.read(out.resolve("spark-steps.ckpt"));
    assertEquals(1, ck.epoch());
    assertEquals(3, ck.step()); // 18 images in global batches of 8
  }

  @Test
  void aBrokenImageStopsTheRunWithItsFileNamed() throws Exception {
    Path data = folder(tmp.resolve("data"), 6);
    Path bad = data.resolve("train").resolve("b").resolve("3.png");
    Files.write(bad, new byte[] {1, 2, 3, 4});
    Result r = run(finetune(data, tmp.resolve("out"), "--strategy", "full", "--spark-master", "local[2]"));
    assertTrue(r.code() != 0, r.out());
    assertTrue(r.err().contains(bad.toString()), r.err());
  }

  static double diff(Tensor a, Tensor b) {
    return a.data().castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)
        .sub(b.data().castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)).amaxNumber().doubleValue();
  }
}
