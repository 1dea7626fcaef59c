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
 *
 * <p>Class folders are sorted by name as torchvision sorts them (Python's string order: by Unicode code point). A
 * class folder without images is refused, naming it (torchvision raises too), so an empty folder never becomes a
 * class. A split that must share another split's labels (val/ and test/ with train/'s classes) is opened with
 * {@link #ImageFolder(Path, int, List)}: its folders are mapped to those classes <em>by name</em>, a class it lacks
 * is listed by {@link #missingClasses()}, and a folder that is not one of the classes is refused.
 */
public final class ImageFolder implements Dataset {
  /** The image file extensions it lists (lower case; matched case-insensitively). */
  public static final List<String> EXTENSIONS = List.of(".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp");

  private final Path root;
  private final List<String> classes = new ArrayList<>();
  private final List<Path> files = new ArrayList<>();
  private final List<Integer> labels = new ArrayList<>();
  private final List<String> missing = new ArrayList<>();
  private final int channels;

  /**
   * RGB images from {@code root/<class>/<image>}, classes from the sorted folder names (torchvision's {@code
   * ImageFolder(root)}).
   */
  public ImageFolder(Path root) {
    this(root, 3);
  }

  /**
   * Images from {@code root/<class>/<image>} decoded to {@code channels} (1: grayscale, 3: RGB), classes from the
   * sorted folder names; throws as {@link #ImageFolder(Path, int, List)}.
   */
  public ImageFolder(Path root, int channels) {
    this(root, channels, null);
  }

  /**
   * An ImageFolder whose labels are the indices of its folders in {@code classes} (matched by name), or, with
   * {@code classes == null}, in its own sorted folder list. With a class list, a folder not in it is refused and the
   * classes without a folder are reported by {@link #missingClasses()}.
   */
  public ImageFolder(Path root, int channels, List<String> classes) {
    if (channels != 1 && channels != 3) {
      throw new GraftException("ImageFolder: channels must be 1 or 3, got " + channels);
    }
    this.root = root;
    this.channels = channels;
    if (!Files.isDirectory(root)) {
      throw new GraftException(root + ": not a folder (ImageFolder expects root/<class>/<image>)");
    }
    List<String> folders = classFolders(root);
    if (classes == null) {
      this.classes.addAll(folders);
    } else {
      List<String> unknown = new ArrayList<>(folders);
      unknown.removeAll(classes);
      if (!unknown.isEmpty()) {
        throw new GraftException(root + ": class folder(s) " + unknown + " are not among the " + classes.size()
            + " classes " + classes + " (the classes come from train/, or from the model's saved class names)");
      }
      this.classes.addAll(classes);
      for (String c : classes) {
        if (!folders.contains(c)) {
          missing.add(c);
        }
      }
    }
    List<String> empty = new ArrayList<>();
    try {
      for (String name : folders) {
        int label = this.classes.indexOf(name);
        int before = files.size();
        try (Stream<Path> imgs = Files.list(root.resolve(name))) {
          for (Path f : imgs.filter(ImageFolder::isImage).sorted().toList()) {
            files.add(f);
            labels.add(label);
          }
        }
        if (files.size() == before) {
          empty.add(name);
        }
      }
    } catch (IOException e) {
      throw new GraftException(root + ": cannot list: " + e.getMessage(), e);
    }
    if (folders.isEmpty() || files.isEmpty()) {
      throw new GraftException(root + ": no class folders with images (" + EXTENSIONS + ")");
    }
    if (!empty.isEmpty()) {
      throw new GraftException(root + ": class folder(s) without images " + empty.stream().map(n -> n + "/")
          .toList() + " (" + EXTENSIONS + "); an empty folder would become a class with no examples: remove it or "
          + "add its images");
    }
  }

  /** The sub-folder names of {@code root}, sorted by Unicode code point as Python's {@code sorted} sorts them. */
  static List<String> classFolders(Path root) {
    try (Stream<Path> dirs = Files.list(root)) {
      return dirs.filter(Files::isDirectory).map(d -> d.getFileName().toString())
          .sorted(ImageFolder::byCodePoint).toList();
    } catch (IOException e) {
      throw new GraftException(root + ": cannot list: " + e.getMessage(), e);
    }
  }

  /**
   * Python's string order, by Unicode code point (Java's {@code compareTo} compares UTF-16 units): the order of class
   * folders, shared with graft-spark's ImageFolder over Spark's file sources.
   */
  public static int byCodePoint(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      int ca = a.codePointAt(i);
      int cb = b.codePointAt(j);
      if (ca != cb) {
        return Integer.compare(ca, cb);
      }
      i += Character.charCount(ca);
      j += Character.charCount(cb);
    }
    return Integer.compare(a.length() - i, b.length() - j);
  }

  /** Classes of the given class list that have no folder here (empty without a class list). */
  public List<String> missingClasses() {
    return List.copyOf(missing);
  }

  static boolean isImage(Path p) {
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
  public String source(int index) {
    return files.get(index).toString();
  }

  @Override
  public int label(int index) {
    return labels.get(index);
  }

  @Override
  public List<String> classes() {
    return classes;
  }

  /** The file of example {@code index} (its key in graft-spark's path-keyed features). */
  public Path file(int index) {
    return files.get(index);
  }

  /** The folder this dataset was opened from. */
  public Path root() {
    return root;
  }
}
