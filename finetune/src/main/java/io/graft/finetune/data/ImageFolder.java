package io.graft.finetune.data;

import io.graft.core.GraftException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * torchvision's {@code ImageFolder}: {@code root/<class>/<image>}, classes sorted by folder name, images (JPEG,
 * PNG, BMP, GIF) sorted by file name within each class, decoded with {@code javax.imageio} to RGB (or grayscale
 * with {@code channels = 1}, ITU-R 601-2 luma as PIL's "L") floats in [0, 1].
 */
public final class ImageFolder implements Dataset {
  private static final List<String> EXTENSIONS = List.of(".jpg", ".jpeg", ".png", ".bmp", ".gif");

  private final Path root;
  private final List<String> classes = new ArrayList<>();
  private final List<Path> files = new ArrayList<>();
  private final List<Integer> labels = new ArrayList<>();
  private final int channels;

  public ImageFolder(Path root) {
    this(root, 3);
  }

  public ImageFolder(Path root, int channels) {
    if (channels != 1 && channels != 3) {
      throw new GraftException("ImageFolder: channels must be 1 or 3, got " + channels);
    }
    this.root = root;
    this.channels = channels;
    if (!Files.isDirectory(root)) {
      throw new GraftException(root + ": not a folder (ImageFolder expects root/<class>/<image>)");
    }
    try (Stream<Path> dirs = Files.list(root)) {
      List<Path> classDirs = dirs.filter(Files::isDirectory).sorted().toList();
      for (Path d : classDirs) {
        int label = classes.size();
        classes.add(d.getFileName().toString());
        try (Stream<Path> imgs = Files.list(d)) {
          for (Path f : imgs.filter(ImageFolder::isImage).sorted().toList()) {
            files.add(f);
            labels.add(label);
          }
        }
      }
    } catch (IOException e) {
      throw new GraftException(root + ": cannot list: " + e.getMessage(), e);
    }
    if (classes.isEmpty() || files.isEmpty()) {
      throw new GraftException(root + ": no class folders with images (" + EXTENSIONS + ")");
    }
  }

  private static boolean isImage(Path p) {
    String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
    return Files.isRegularFile(p) && EXTENSIONS.stream().anyMatch(n::endsWith);
  }

  @Override
  public int size() {
    return files.size();
  }

  @Override
  public Example get(int index) {
    Path f = files.get(index);
    BufferedImage img;
    try {
      img = ImageIO.read(f.toFile());
    } catch (IOException e) {
      throw new GraftException(f + ": cannot decode image: " + e.getMessage(), e);
    }
    if (img == null) {
      throw new GraftException(f + ": not a decodable image");
    }
    return new Example(toImage(img, channels), labels.get(index));
  }

  /** {@code ToTensor}: 8-bit RGB (or luma) to C×H×W floats in [0, 1]. */
  public static Image toImage(BufferedImage img, int channels) {
    int h = img.getHeight();
    int w = img.getWidth();
    float[] v = new float[channels * h * w];
    int plane = h * w;
    boolean gray = img.getType() == BufferedImage.TYPE_BYTE_GRAY;
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int i = y * w + x;
        if (gray) {
          int g = img.getRaster().getSample(x, y, 0);
          for (int c = 0; c < channels; c++) {
            v[c * plane + i] = g / 255f;
          }
          continue;
        }
        int rgb = img.getRGB(x, y);
        int r = (rgb >> 16) & 0xFF;
        int g = (rgb >> 8) & 0xFF;
        int b = rgb & 0xFF;
        if (channels == 3) {
          v[i] = r / 255f;
          v[plane + i] = g / 255f;
          v[2 * plane + i] = b / 255f;
        } else {
          v[i] = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) / 255f;
        }
      }
    }
    return new Image(channels, h, w, v);
  }

  @Override
  public int label(int index) {
    return labels.get(index);
  }

  @Override
  public List<String> classes() {
    return classes;
  }

  public Path root() {
    return root;
  }
}
