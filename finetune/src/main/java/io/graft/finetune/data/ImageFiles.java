package io.graft.finetune.data;

import io.graft.core.GraftException;
import io.graft.finetune.transforms.ToTensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Unlabelled images to predict on: files given one by one (any name; a file that is not a decodable image fails
 * when read, naming it) and folders, searched recursively for the image files {@link ImageFolder} lists (same
 * extensions), sorted by path. Decoded as {@link ImageFolder} decodes (RGB, or luma with {@code channels = 1});
 * every label is 0, and {@link #classes()} are the model's class names.
 */
public final class ImageFiles implements Dataset {
  private final List<Path> files;
  private final List<String> classes;
  private final int channels;

  private ImageFiles(List<Path> files, List<String> classes, int channels) {
    this.files = files;
    this.classes = List.copyOf(classes);
    this.channels = channels;
  }

  /** The images of {@code paths} (files, and folders searched recursively), in the order given. */
  public static ImageFiles of(List<Path> paths, List<String> classes, int channels) {
    if (channels != 1 && channels != 3) {
      throw new GraftException("ImageFiles: channels must be 1 or 3, got " + channels);
    }
    List<Path> files = new ArrayList<>();
    for (Path p : paths) {
      if (Files.isDirectory(p)) {
        try (Stream<Path> all = Files.walk(p)) {
          List<Path> found = all.filter(ImageFolder::isImage).sorted().toList();
          if (found.isEmpty()) {
            throw new GraftException(p + ": a folder without image files (" + String.join(", ",
                ImageFolder.EXTENSIONS) + ")");
          }
          files.addAll(found);
        } catch (IOException | java.io.UncheckedIOException e) {
          throw new GraftException(p + ": cannot list: " + e.getMessage(), e);
        }
      } else if (Files.isRegularFile(p)) {
        files.add(p);
      } else {
        throw new GraftException(p + ": no such image file or folder");
      }
    }
    if (files.isEmpty()) {
      throw new GraftException("no images given");
    }
    return new ImageFiles(List.copyOf(files), classes, channels);
  }

  /** The image files, in prediction order. */
  public List<Path> files() {
    return files;
  }

  @Override
  public int size() {
    return files.size();
  }

  @Override
  public Example get(int index) {
    return new Example(ToTensor.of(ImageDecoder.read(files.get(index)), channels), 0);
  }

  @Override
  public int label(int index) {
    return 0;
  }

  @Override
  public List<String> classes() {
    return classes;
  }
}
