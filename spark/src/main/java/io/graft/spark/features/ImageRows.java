package io.graft.spark.features;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lower;

import io.graft.core.GraftException;
import io.graft.finetune.data.Example;
import io.graft.finetune.data.ImageDecoder;
import io.graft.finetune.data.ImageFolder;
import io.graft.finetune.transforms.ToTensor;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;

/**
 * Encoded images in a DataFrame column (PNG, JPEG, ... bytes, as Spark's {@code binaryFile} source gives them in
 * {@code content}), keyed by a string column (a path), with an optional integer label column; decoded on the
 * executors by Graft's {@link ImageDecoder} to {@code channels} (1: luma, 3: RGB), as {@link ImageFolder} decodes.
 * A file that does not decode fails the job with an error naming its key.
 *
 * <p>{@link #imageFolder} reads {@code root/<class>/<image>} with Spark's {@code binaryFile} source (any Hadoop file
 * system: a shared path, {@code hdfs://}, {@code s3a://}): the files with {@link ImageFolder#EXTENSIONS}
 * (case-insensitive) directly inside a class folder, labelled by their folder's index among the folders that hold
 * images, sorted as {@link ImageFolder} sorts them. Hadoop skips files whose names start with {@code .} or
 * {@code _}, which {@link ImageFolder} would list. Local paths ({@code file:} URIs) are keyed by their plain absolute
 * path, as {@code Path.toAbsolutePath()} writes it.
 */
public final class ImageRows implements ImageSource {
  private static final long serialVersionUID = 1L;

  private final transient Dataset<Row> rows;
  private final String keyColumn;
  private final String contentColumn;
  private final String labelColumn;
  private final List<String> classes;
  private final int channels;
  private final boolean labelFromFolder;
  private final int partitions;

  private ImageRows(Dataset<Row> rows, String keyColumn, String contentColumn, String labelColumn,
      List<String> classes, int channels, boolean labelFromFolder, int partitions) {
    if (channels != 1 && channels != 3) {
      throw new GraftException("ImageRows: channels must be 1 or 3, got " + channels);
    }
    this.rows = rows;
    this.keyColumn = keyColumn;
    this.contentColumn = contentColumn;
    this.labelColumn = labelColumn;
    this.classes = List.copyOf(classes);
    this.channels = channels;
    this.labelFromFolder = labelFromFolder;
    this.partitions = partitions;
  }

  /**
   * The images in {@code df}'s binary column {@code contentColumn}, keyed by its string column {@code keyColumn},
   * labelled by its integer column {@code labelColumn} (null: unlabelled, label -1) with {@code classes} naming the
   * labels; throws {@link GraftException} naming a missing column or one of the wrong type.
   */
  public static ImageRows of(Dataset<Row> df, String keyColumn, String contentColumn, String labelColumn,
      List<String> classes, int channels) {
    check(df, keyColumn, "a string", DataTypes.StringType);
    check(df, contentColumn, "a binary", DataTypes.BinaryType);
    if (labelColumn != null) {
      check(df, labelColumn, "an integer", DataTypes.IntegerType);
    }
    return new ImageRows(df, keyColumn, contentColumn, labelColumn, classes, channels, false, 0);
  }

  /** An ImageFolder {@code root/<class>/<image>} read with Spark's {@code binaryFile} source (see the class comment). */
  public static ImageRows imageFolder(SparkSession spark, String root, int channels) {
    String base = root.endsWith("/") ? root.substring(0, root.length() - 1) : root;
    Dataset<Row> files;
    try {
      files = spark.read().format("binaryFile").load(base + "/*/*");
    } catch (RuntimeException e) { // Spark's AnalysisException: the path does not exist
      throw new GraftException(root + ": cannot read as an ImageFolder (root/<class>/<image>): " + e.getMessage(), e);
    }
    files = files.filter(images());
    TreeSet<String> folders = new TreeSet<>(ImageFolder::byCodePoint);
    for (Row r : files.select("path").collectAsList()) {
      folders.add(folder(r.getString(0)));
    }
    if (folders.isEmpty()) {
      throw new GraftException(root + ": no class folders with images (" + ImageFolder.EXTENSIONS + ")");
    }
    return new ImageRows(files, "path", "content", null, new ArrayList<>(folders), channels, true, 0);
  }

  /**
   * The images of {@code path} (a folder searched recursively, or a glob; any Hadoop file system) with {@link
   * ImageFolder#EXTENSIONS} (case-insensitive), read with Spark's {@code binaryFile} source, unlabelled: what {@code
   * graft predict --spark-master --data} reads. Throws {@link GraftException} when there are none.
   */
  public static ImageRows files(SparkSession spark, String path, int channels) {
    Dataset<Row> files;
    try {
      files = spark.read().format("binaryFile").option("recursiveFileLookup", "true").load(path).filter(images());
    } catch (RuntimeException e) { // Spark's AnalysisException: the path does not exist
      throw new GraftException(path + ": cannot read images: " + e.getMessage(), e);
    }
    if (files.select("path").isEmpty()) {
      throw new GraftException(path + ": no image files (" + String.join(", ", ImageFolder.EXTENSIONS) + ")");
    }
    return new ImageRows(files, "path", "content", null, List.of(), channels, false, 0);
  }

  /** Whether column {@code path} ends with an image extension, case-insensitively. */
  private static Column images() {
    Column image = null;
    for (String ext : ImageFolder.EXTENSIONS) {
      Column c = lower(col("path")).endsWith(ext);
      image = image == null ? c : image.or(c);
    }
    return image;
  }

  /** These rows spread over {@code n} partitions (a shuffle of the bytes) before decoding; 0 keeps Spark's split. */
  public ImageRows withPartitions(int n) {
    if (n < 0) {
      throw new GraftException("ImageRows: partitions must be >= 0, got " + n);
    }
    return new ImageRows(rows, keyColumn, contentColumn, labelColumn, classes, channels, labelFromFolder, n);
  }

  private static void check(Dataset<Row> df, String column, String what, org.apache.spark.sql.types.DataType type) {
    for (StructField f : df.schema().fields()) {
      if (f.name().equals(column)) {
        if (!f.dataType().equals(type)) {
          throw new GraftException("column '" + column + "' must be " + what + " column, got " + f.dataType());
        }
        return;
      }
    }
    throw new GraftException("no column '" + column + "' among " + List.of(df.columns()));
  }

  /** The name of the folder holding {@code path}. */
  private static String folder(String path) {
    int end = path.lastIndexOf('/');
    int start = path.lastIndexOf('/', end - 1);
    return path.substring(start + 1, end);
  }

  /** A {@code file:} URI as its plain local path; other URIs as they are. */
  static String key(String path) {
    if (path.startsWith("file:")) {
      try {
        return Path.of(new URI(path)).toString();
      } catch (java.net.URISyntaxException | IllegalArgumentException e) {
        return path;
      }
    }
    return path;
  }

  @Override
  public JavaRDD<Sample> samples(SparkSession spark) {
    if (rows == null) {
      throw new GraftException("ImageRows: samples() is called on the driver, not on an executor");
    }
    List<String> cols = new ArrayList<>(List.of(keyColumn, contentColumn));
    if (labelColumn != null) {
      cols.add(labelColumn);
    }
    JavaRDD<Row> r = rows.select(cols.stream().map(org.apache.spark.sql.functions::col).toArray(Column[]::new))
        .javaRDD();
    if (partitions > 0) {
      r = r.repartition(partitions);
    }
    boolean fromFolder = labelFromFolder;
    boolean labelled = labelColumn != null;
    List<String> names = classes;
    return r.map(row -> {
      String path = row.getString(0);
      int label = fromFolder ? names.indexOf(folder(path)) : labelled && !row.isNullAt(2) ? row.getInt(2) : -1;
      return new Sample(-1, key(path), label, row.isNullAt(1) ? null : (byte[]) row.get(1));
    });
  }

  @Override
  public Example decode(Sample s) {
    if (s.bytes() == null) {
      throw new GraftException(s.name() + ": no image bytes (null content)");
    }
    if (s.label() < -1 || s.label() >= 0 && !classes.isEmpty() && s.label() >= classes.size()) {
      throw new GraftException(s.name() + ": label " + s.label() + " is not one of the " + classes.size()
          + " classes " + classes);
    }
    return new Example(ToTensor.of(ImageDecoder.read(s.bytes(), s.name()), channels), s.label());
  }

  @Override
  public List<String> classes() {
    return classes;
  }

  @Override
  public Keys keys() {
    return Keys.PATH;
  }
}
