package io.graft.finetune.cli;

import static io.graft.finetune.cli.GraftCliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.Safetensors;
import io.graft.finetune.cli.GraftCliTest.Result;
import io.graft.finetune.data.DataLoader;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import java.awt.image.BufferedImage;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code graft predict --images} (issue 23 item 6): a folder of PNG and JPEG files, a CMYK JPEG among them (decoded
 * by the TwelveMonkeys plug-in), top-k class names and probabilities equal to softmax of the logits that
 * {@code graft eval}'s preprocessing gives, written as CSV and JSON; class names from the weights' metadata, from
 * classes.json beside them, from --classes (count-checked), or the indices with a warning.
 */
class PredictImagesCliTest {
  @TempDir
  Path tmp;

  static final ObjectMapper JSON = new ObjectMapper();
  static final List<String> NAMES = List.of("bag", "dress", "shirt", "hat");

  Module model() {
    io.graft.core.init.Init.manualSeed(5);
    return Zoo.create("smallcnn", NAMES.size());
  }

  Path weights(Module m, Map<String, String> meta, String name) {
    Path w = tmp.resolve(name);
    Safetensors.write(w, m.stateDict(), meta);
    return w;
  }

  /** imgs/ with two PNGs, an RGB JPEG, and in a sub-folder the CMYK JPEG from the test resources. */
  Path images() throws Exception {
    Path dir = tmp.resolve("imgs");
    TinyImageFolder.images(dir, "png", 1, 2, 3); // imgs/png/img00.png, img01.png
    BufferedImage rgb = new BufferedImage(20, 12, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 12; y++) {
      for (int x = 0; x < 20; x++) {
        rgb.setRGB(x, y, x < 10 ? 0x2060c0 : 0xe0c040);
      }
    }
    Files.createDirectories(dir.resolve("jpeg"));
    assertTrue(ImageIO.write(rgb, "jpg", dir.resolve("jpeg/rgb.jpg").toFile()));
    try (InputStream in = PredictImagesCliTest.class.getResourceAsStream("/images/cmyk-red-8x8.jpg")) {
      Files.copy(in, dir.resolve("jpeg/cmyk.jpg"));
    }
    return dir;
  }

  /**
   * The softmax probabilities that graft eval's pipeline gives each file: the files as the test split of an
   * ImageFolder, opened by {@link DataSource} with the saved class names, through its evaluation transform.
   */
  Map<String, double[]> expected(Module m, Path dir) throws Exception {
    Path root = tmp.resolve("evalroot");
    Files.createDirectories(root.resolve("train"));
    Path cls = Files.createDirectories(root.resolve("val").resolve("bag"));
    Map<String, String> byName = new HashMap<>();
    try (var all = Files.walk(dir)) {
      for (Path f : all.filter(Files::isRegularFile).toList()) {
        String flat = dir.relativize(f).toString().replace('/', '_');
        Files.copy(f, cls.resolve(flat));
        byName.put(flat, f.toString());
      }
    }
    DataSource ds = DataSource.open(root.toString(), null, null, "smallcnn", 224, 0, NAMES, Augment.NONE, null);
    Map<String, double[]> out = new HashMap<>();
    m.eval();
    List<Path> files;
    try (var s = Files.list(cls)) {
      files = s.sorted().toList();
    }
    try (DataLoader l = new DataLoader(ds.test(), ds.evalTransform(), DataLoader.Options.batch(64));
         var g = GradMode.disabled()) {
      for (DataLoader.Batch b : l.epoch(0)) {
        float[] v = m.call(b.x()).toFloatArray();
        for (int i = 0; i < b.size(); i++) {
          double[] p = new double[NAMES.size()];
          double max = Double.NEGATIVE_INFINITY;
          for (int j = 0; j < p.length; j++) {
            max = Math.max(max, v[i * p.length + j]);
          }
          double sum = 0;
          for (int j = 0; j < p.length; j++) {
            p[j] = Math.exp(v[i * p.length + j] - max);
            sum += p[j];
          }
          for (int j = 0; j < p.length; j++) {
            p[j] /= sum;
          }
          out.put(byName.get(files.get(b.indices()[i]).getFileName().toString()), p);
        }
      }
    }
    return out;
  }

  @Test
  void aFolderOfPngAndJpegFilesWithACmykJpegGivesTopKNamesAndProbabilities() throws Exception {
    Module m = model();
    Map<String, String> meta = new HashMap<>(ClassNames.metadata(NAMES)); // as graft finetune on an ImageFolder
    meta.putAll(DataSource.imageEvalPreprocess("smallcnn", 224).metadata());
    Path w = weights(m, meta, "model.safetensors");
    Path dir = images();
    Map<String, double[]> want = expected(m, dir);
    Path csv = tmp.resolve("preds.csv");
    Result r = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images", dir.toString(),
        "--top-k", "2", "--out", csv.toString(), "--batch-size", "3");
    assertEquals(0, r.code(), r.err());
    assertFalse(r.err().contains("warning"), r.err());
    List<String> lines = Files.readAllLines(csv);
    assertEquals("path,class_1,probability_1,class_2,probability_2", lines.get(0));
    assertEquals(5, lines.size(), lines.toString());
    List<String> order = List.of("jpeg/cmyk.jpg", "jpeg/rgb.jpg", "png/img00.png", "png/img01.png");
    for (int i = 0; i < 4; i++) {
      String[] row = lines.get(i + 1).split(",");
      String file = dir.resolve(order.get(i)).toString();
      assertEquals(file, row[0], "rows in path order, folders searched recursively");
      double[] p = want.get(file);
      for (int k = 0; k < 2; k++) {
        int c = NAMES.indexOf(row[1 + 2 * k]);
        assertEquals(p[c], Double.parseDouble(row[2 + 2 * k]), 1e-6, file + " class " + row[1 + 2 * k]);
        long higher = java.util.Arrays.stream(p).filter(q -> q > p[c]).count(); // the k-th most probable class
        assertEquals(k, higher, file + ": " + java.util.Arrays.toString(p));
      }
      assertTrue(r.out().contains(file + ": " + row[1] + " "), r.out());
    }
    // JSON, and a top-k above the number of classes gives every class, probabilities summing to 1
    Path json = tmp.resolve("preds.json");
    Result j = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images",
        dir.resolve("jpeg/cmyk.jpg").toString(), dir.resolve("png").toString(), "--top-k", "10", "--out",
        json.toString());
    assertEquals(0, j.code(), j.err());
    JsonNode rows = JSON.readTree(json.toFile());
    assertEquals(3, rows.size());
    assertEquals(dir.resolve("jpeg/cmyk.jpg").toString(), rows.get(0).get("path").asText());
    double sum = 0;
    for (JsonNode p : rows.get(0).get("predictions")) {
      assertEquals(NAMES.get(p.get("index").asInt()), p.get("class").asText());
      assertEquals(want.get(rows.get(0).get("path").asText())[p.get("index").asInt()],
          p.get("probability").asDouble(), 1e-6);
      sum += p.get("probability").asDouble();
    }
    assertEquals(4, rows.get(0).get("predictions").size());
    assertEquals(1.0, sum, 1e-9);
  }

  /**
   * The CMYK JPEG is decoded by TwelveMonkeys' reader: ImageIO offers it first for the file, and ImageDecoder (every
   * image read, predict's included) takes the first reader offered.
   */
  @Test
  void theCmykJpegIsReadByTwelveMonkeys() throws Exception {
    Path f = images().resolve("jpeg/cmyk.jpg");
    try (ImageInputStream in = ImageIO.createImageInputStream(f.toFile())) {
      Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
      assertTrue(readers.hasNext());
      ImageReader first = readers.next();
      assertEquals("com.twelvemonkeys.imageio.plugins.jpeg.JPEGImageReader", first.getClass().getName());
      first.dispose();
    }
  }

  @Test
  void classNamesComeFromMetadataThenClassesJsonThenIndices() throws Exception {
    Module m = model();
    Path dir = images().resolve("png");
    // no metadata, classes.json beside the weights
    Path sub = Files.createDirectories(tmp.resolve("run"));
    Path w = sub.resolve("model.safetensors");
    Safetensors.write(w, m.stateDict(), Map.of());
    ClassNames.write(sub, List.of("w", "x", "y", "z"));
    Result beside = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images", dir.toString(),
        "--top-k", "4");
    assertEquals(0, beside.code(), beside.err());
    assertTrue(beside.out().contains(" w ") && beside.out().contains(" z "), beside.out());
    // neither: the indices, with a warning
    Files.delete(sub.resolve(ClassNames.FILE));
    Result none = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images", dir.toString(),
        "--top-k", "4");
    assertEquals(0, none.code(), none.err());
    assertTrue(none.err().contains("graft: warning: ") && none.err().contains("indices 0-3"), none.err());
    assertTrue(none.out().contains(": 0 ") || none.out().contains(", 0 "), none.out());
    // --classes: a count that differs from the weights' names is refused, naming both counts
    Path named = weights(m, ClassNames.metadata(NAMES), "named.safetensors");
    Path three = tmp.resolve("three.txt");
    Files.writeString(three, "a\nb\nc\n");
    Result mismatch = run("predict", "--model", "smallcnn", "--weights", named.toString(), "--images",
        dir.toString(), "--classes", three.toString());
    assertEquals(Graft.BAD_INPUT, mismatch.code(), mismatch.err());
    assertTrue(mismatch.err().contains("has 3 class names") && mismatch.err().contains("has 4 [bag, dress, shirt, "
        + "hat]"), mismatch.err());
    // ... and against the model's outputs when the weights carry no names
    Result outputs = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images", dir.toString(),
        "--classes", three.toString());
    assertEquals(Graft.BAD_INPUT, outputs.code(), outputs.err());
    assertTrue(outputs.err().contains("3 class names, but the model has 4 outputs"), outputs.err());
    // a consistent --classes renames
    Path four = tmp.resolve("four.json");
    Files.writeString(four, "[\"A\", \"B\", \"C\", \"D\"]");
    Result renamed = run("predict", "--model", "smallcnn", "--weights", named.toString(), "--images",
        dir.toString(), "--classes", four.toString(), "--top-k", "4");
    assertEquals(0, renamed.code(), renamed.err());
    assertTrue(renamed.out().contains(" A ") && !renamed.out().contains("bag"), renamed.out());
  }

  @Test
  void badArgumentsAreRefusedByName() throws Exception {
    Module m = model();
    Path w = weights(m, ClassNames.metadata(NAMES), "model.safetensors");
    Path dir = images();
    Result both = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images", dir.toString(),
        "--input", tmp.resolve("x.npy").toString());
    assertEquals(Graft.BAD_INPUT, both.code());
    assertTrue(both.err().contains("not both"), both.err());
    Result ext = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images", dir.toString(),
        "--out", tmp.resolve("p.txt").toString());
    assertEquals(Graft.BAD_INPUT, ext.code());
    assertTrue(ext.err().contains("p.txt") && ext.err().contains(".csv or .json"), ext.err());
    Result missing = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images",
        tmp.resolve("nope").toString());
    assertEquals(Graft.BAD_INPUT, missing.code());
    assertTrue(missing.err().contains("nope: no such image file or folder"), missing.err());
    Path notImage = tmp.resolve("notes.jpg");
    Files.writeString(notImage, "not a jpeg");
    Result bad = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images", notImage.toString());
    assertEquals(Graft.BAD_INPUT, bad.code());
    assertTrue(bad.err().contains("notes.jpg"), bad.err());
    Path twice = tmp.resolve("twice.txt");
    Files.writeString(twice, "a\nb\na\nc\n");
    Result dup = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images", dir.toString(),
        "--classes", twice.toString());
    assertEquals(Graft.BAD_INPUT, dup.code());
    assertTrue(dup.err().contains("twice.txt: the class name 'a' appears more than once"), dup.err());
    Result topK = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images", dir.toString(),
        "--top-k", "0");
    assertEquals(Graft.BAD_INPUT, topK.code());
    assertTrue(topK.err().contains("--top-k must be positive"), topK.err());
  }

  /**
   * An ONNX classifier exported with its batch fixed at 1, with a fine-tuned 3-way head: --images runs it at the
   * graph's declared 32×32 size, with the weights' class names (this graph also accepts other batch sizes, so the
   * chunking by its fixed batch, shared with --input and tested there, is not what this checks).
   */
  @Test
  void anOnnxGraphWithAFixedBatchAndFineTunedWeights() throws Exception {
    GraftCliTest g = new GraftCliTest();
    g.tmp = tmp;
    Path onnx = g.tinyCnnOnnx(); // [1, 3, 32, 32]
    io.graft.zoo.onnx.OnnxClassifier tuned = io.graft.zoo.onnx.OnnxClassifier.of(io.graft.zoo.onnx.OnnxModel.load(onnx));
    tuned.replaceHead(3);
    Path w = weights(tuned, ClassNames.metadata(List.of("x", "y", "z")), "tuned.safetensors");
    Path dir = images();
    Path json = tmp.resolve("p.json");
    Result r = run("predict", "--onnx", onnx.toString(), "--weights", w.toString(), "--images",
        dir.resolve("png").toString(), dir.resolve("jpeg/rgb.jpg").toString(), "--top-k", "3", "--out",
        json.toString());
    assertEquals(0, r.code(), r.err());
    JsonNode rows = JSON.readTree(json.toFile());
    assertEquals(3, rows.size());
    io.graft.finetune.transforms.Transform t = DataSource.imageEvalPreprocess("onnx:tiny.onnx", 32).transform();
    tuned.eval();
    for (JsonNode row : rows) {
      io.graft.finetune.data.Image img = t.apply(io.graft.finetune.transforms.ToTensor.of(
          io.graft.finetune.data.ImageDecoder.read(Path.of(row.get("path").asText())), 3), null);
      assertEquals(32, img.height());
      float[] logits;
      try (var gm = GradMode.disabled()) {
        logits = tuned.call(io.graft.core.Tensor.fromArray(img.data(), 1, 3, 32, 32)).toFloatArray();
      }
      ImagePredictions.Row want = ImagePredictions.top(null, logits, 0, 3, 3);
      for (int k = 0; k < 3; k++) {
        JsonNode p = row.get("predictions").get(k);
        assertEquals(want.classes()[k], p.get("index").asInt(), row.toString());
        assertEquals(List.of("x", "y", "z").get(want.classes()[k]), p.get("class").asText());
        assertEquals(want.probabilities()[k], p.get("probability").asDouble(), 1e-6);
      }
    }
  }
}
