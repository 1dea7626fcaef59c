package io.graft.finetune.cli;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;

/**
 * Tiny ImageFolder trees of PNGs for CLI tests: {@code root/<split>/<class>/imgNN.png}, 16×16 RGB, each class a
 * brightness and hue of its own plus seeded noise, so a few epochs can learn them.
 */
final class TinyImageFolder {
  private TinyImageFolder() {}

  /** {@code count} images of class {@code cls} (its index {@code k} decides the colour) in {@code dir/cls}. */
  static void images(Path dir, String cls, int k, int count, long seed) throws IOException {
    Path d = dir.resolve(cls);
    Files.createDirectories(d);
    Random r = new Random(seed * 31 + k);
    for (int i = 0; i < count; i++) {
      BufferedImage img = new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB);
      for (int y = 0; y < 16; y++) {
        for (int x = 0; x < 16; x++) {
          int base = 30 + 60 * k;
          int red = clamp(base + r.nextInt(21) - 10 + (x < 8 ? 20 : 0));
          int green = clamp(255 - base + r.nextInt(21) - 10);
          int blue = clamp((k * 97) % 256 + r.nextInt(21) - 10);
          img.setRGB(x, y, (red << 16) | (green << 8) | blue);
        }
      }
      ImageIO.write(img, "png", d.resolve(String.format("img%02d.png", i)).toFile());
    }
  }

  private static int clamp(int v) {
    return Math.max(0, Math.min(255, v));
  }

  /**
   * A root with the given splits; each split maps class names (in the order that fixes their colour) to image
   * counts (0: an empty class folder).
   */
  static Path make(Path root, Map<String, Map<String, Integer>> splits) throws IOException {
    long seed = 0;
    for (Map.Entry<String, Map<String, Integer>> split : splits.entrySet()) {
      for (Map.Entry<String, Integer> c : split.getValue().entrySet()) {
        images(root.resolve(split.getKey()), c.getKey(), colour(c.getKey()), c.getValue(), ++seed);
      }
    }
    return root;
  }

  /** A class's colour index, by name, so every split draws a class alike. */
  static int colour(String cls) {
    return switch (cls) {
      case "bag" -> 0;
      case "dress" -> 1;
      case "shirt" -> 2;
      case "hat" -> 3;
      default -> 4;
    };
  }
}
