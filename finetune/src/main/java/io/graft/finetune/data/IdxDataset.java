package io.graft.finetune.data;

import io.graft.core.GraftException;
import io.graft.finetune.transforms.ToTensor;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * MNIST-family datasets in IDX format ({@code train-images-idx3-ubyte.gz} + {@code train-labels-idx1-ubyte.gz},
 * gzipped or not): 28×28 grayscale images as 1×H×W floats in [0, 1] (ToTensor), labels as class indices. The
 * headers' sizes are checked against each other and against the data actually present.
 *
 * <pre>{@code
 * Dataset train = IdxDataset.fashionMnist(Path.of("/usr/share/datasets/fashion-mnist"), true);
 * }</pre>
 */
public final class IdxDataset implements Dataset {
  /** Fashion-MNIST's ten class names, in label order. */
  public static final List<String> FASHION_CLASSES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");
  /** MNIST's class names, the digits {@code "0"} to {@code "9"}, in label order. */
  public static final List<String> DIGITS = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");

  private final byte[] pixels;
  private final byte[] labels;
  private final int height;
  private final int width;
  private final List<String> classes;

  /**
   * Reads an IDX image file (rank 3) and label file (rank 1), gzipped or not, with {@code classes} naming the labels;
   * throws {@link GraftException} naming the file if either is malformed or truncated, if their counts differ, or if a
   * label is not below {@code classes.size()}.
   */
  public IdxDataset(Path images, Path labelFile, List<String> classes) {
    Idx img = read(images, 3);
    Idx lab = read(labelFile, 1);
    if (img.dims[0] != lab.dims[0]) {
      throw new GraftException(images + " holds " + img.dims[0] + " images but " + labelFile + " holds " + lab.dims[0]
          + " labels");
    }
    this.pixels = img.data;
    this.labels = lab.data;
    this.height = img.dims[1];
    this.width = img.dims[2];
    this.classes = List.copyOf(classes);
    for (int i = 0; i < labels.length; i++) {
      int l = labels[i] & 0xFF;
      if (l >= classes.size()) {
        throw new GraftException(labelFile + ": label " + l + " at index " + i + " is not one of " + classes.size()
            + " classes");
      }
    }
  }

  /** Fashion-MNIST from a folder holding the four standard files (Debian: /usr/share/datasets/fashion-mnist). */
  public static IdxDataset fashionMnist(Path dir, boolean train) {
    return standard(dir, train, FASHION_CLASSES);
  }

  /**
   * MNIST from a folder holding the four standard files, the training split if {@code train}, else the test split;
   * throws {@link GraftException} naming the missing file.
   */
  public static IdxDataset mnist(Path dir, boolean train) {
    return standard(dir, train, DIGITS);
  }

  private static IdxDataset standard(Path dir, boolean train, List<String> classes) {
    String p = train ? "train" : "t10k";
    return new IdxDataset(find(dir, p + "-images-idx3-ubyte"), find(dir, p + "-labels-idx1-ubyte"), classes);
  }

  private static Path find(Path dir, String stem) {
    for (String name : new String[] {stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz"}) {
      Path p = dir.resolve(name);
      if (Files.isRegularFile(p)) {
        return p;
      }
    }
    throw new GraftException(dir + ": no " + stem + "(.gz) here; expected the standard IDX files (for "
        + "Fashion-MNIST on Debian: apt-get install dataset-fashion-mnist, folder /usr/share/datasets/fashion-mnist)");
  }

  private record Idx(int[] dims, byte[] data) {}

  private static Idx read(Path path, int rank) {
    if (!Files.isRegularFile(path)) {
      throw new GraftException(path + ": no such file");
    }
    try (InputStream raw = Files.newInputStream(path);
         InputStream in = path.toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw;
         DataInputStream d = new DataInputStream(in)) {
      int magic = d.readInt();
      if ((magic >>> 8) != 0x08 || (magic & 0xFF) != rank) {
        throw new GraftException(path + ": not an IDX file of unsigned bytes with " + rank + " dimensions (magic 0x"
            + Integer.toHexString(magic) + ")");
      }
      int[] dims = new int[rank];
      long n = 1;
      for (int i = 0; i < rank; i++) {
        dims[i] = d.readInt();
        if (dims[i] < 1) {
          throw new GraftException(path + ": dimension " + i + " is " + dims[i]);
        }
        n *= dims[i];
      }
      long limit = Files.size(path) * (path.toString().endsWith(".gz") ? 1100L : 1L);
      if (n > Integer.MAX_VALUE - 8 || n > limit) {
        throw new GraftException(path + ": header claims " + n + " bytes of data, more than the file can hold");
      }
      byte[] data = new byte[(int) n];
      d.readFully(data);
      return new Idx(dims, data);
    } catch (EOFException e) {
      throw new GraftException(path + ": truncated (fewer bytes than its header declares)", e);
    } catch (IOException e) {
      throw new GraftException(path + ": cannot read: " + e.getMessage(), e);
    }
  }

  @Override
  public int size() {
    return labels.length;
  }

  @Override
  public Example get(int index) {
    return new Example(ToTensor.ofGray(pixels, index * height * width, height, width), label(index));
  }

  @Override
  public int label(int index) {
    return labels[index] & 0xFF;
  }

  @Override
  public List<String> classes() {
    return classes;
  }
}
