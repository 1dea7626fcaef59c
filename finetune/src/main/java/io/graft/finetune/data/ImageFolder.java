package io.graft.finetune.data;

import io.graft.core.GraftException;
import io.graft.finetune.transforms.ToTensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

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
    return new Example(ToTensor.of(ImageDecoder.read(f), channels), labels.get(index));
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
