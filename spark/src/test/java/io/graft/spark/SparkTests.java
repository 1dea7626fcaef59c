package io.graft.spark;

import io.graft.core.io.Safetensors;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import org.apache.spark.sql.SparkSession;

/** Shared pieces of graft-spark's tests: the one {@code local[2]} session, seeded weights, tiny image folders. */
public final class SparkTests {
  private SparkTests() {}

  /** The JVM's {@code local[2]} session (Spark allows one per JVM; test classes share it). */
  public static SparkSession local2() {
    return SparkSessions.start("local[2]", "graft-spark-tests");
  }

  /** Freshly initialised {@code model} weights with a {@code classes}-way head, saved to {@code dir}. */
  public static Path weights(Path dir, String model, int classes) {
    Module m = Zoo.create(model, classes);
    Path p = dir.resolve(model + ".safetensors");
    Safetensors.write(p, m.stateDict(), Map.of());
    return p;
  }

  /** {@code root/<class>/imgNN.png}: {@code perClass} seeded 28×28 RGB PNGs per class, a colour per class. */
  public static Path imageFolder(Path root, int perClass, String... classes) throws IOException {
    for (int k = 0; k < classes.length; k++) {
      Path d = Files.createDirectories(root.resolve(classes[k]));
      Random r = new Random(k);
      for (int i = 0; i < perClass; i++) {
        BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 28; y++) {
          for (int x = 0; x < 28; x++) {
            int v = Math.max(0, Math.min(255, 40 + 70 * k + r.nextInt(41) - 20));
            img.setRGB(x, y, (v << 16) | ((255 - v) << 8) | (x * 9));
          }
        }
        ImageIO.write(img, "png", d.resolve(String.format("img%02d.png", i)).toFile());
      }
    }
    return root;
  }
}
