package io.graft.finetune.cli;

import static io.graft.finetune.cli.GraftCliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.GraftException;
import io.graft.core.autograd.GradMode;
import io.graft.core.io.Safetensors;
import io.graft.finetune.cli.GraftCliTest.Result;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.data.Image;
import io.graft.finetune.data.IdxDataset;
import io.graft.finetune.recipe.Demo;
import io.graft.layers.Module;
import io.graft.zoo.weights.Weights;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The evaluation preprocessing recorded with fine-tuned weights ({@link Preprocess}): a smallcnn fine-tuned on IDX
 * data (Fashion-MNIST statistics) gives, on its own test images written as PNG, the same probabilities under
 * {@code graft predict --images} and {@code graft eval} of an ImageFolder as the Java API through the training run's
 * evaluation transform; a contradicting {@code --image-size} is refused naming both sizes; weights without the record
 * keep the ImageFolder default with one warning line; a malformed record is refused naming its key.
 */
class PreprocessCliTest {
  @TempDir
  Path tmp;

  static final int N = 6;
  static final List<String> NAMES = IdxDataset.FASHION_CLASSES.subList(5, 7); // Sandal, Shirt

  /** graft finetune of a smallcnn from scratch on the demo's IDX files, classes 5-6, 4 images each, one epoch. */
  Path finetune(Path assets) {
    Path out = tmp.resolve("run");
    Result r = run("finetune", "--model", "smallcnn", "--strategy", "scratch", "--data", "fashion-mnist:" + assets,
        "--classes", "5-6", "--per-class", "4", "--epochs", "1", "--no-progress", "--workers", "0", "--out",
        out.toString());
    assertEquals(0, r.code(), r.err());
    return out.resolve("model.safetensors");
  }

  /**
   * The first {@link #N} test images of the run's data as 8-bit grayscale PNGs, in {@code dir/CLASS/imgI.png}; their
   * softmax probabilities from the Java API through the run's evaluation transform, by file.
   */
  Map<Path, double[]> pngsAndExpected(Path assets, Path weights, Path dir) throws Exception {
    DataSource ds = DataSource.open("fashion-mnist:" + assets, "5-6", null, "smallcnn", 224, 0, null,
        Augment.NONE, null);
    Module m = Weights.loadZoo("smallcnn", weights);
    m.eval();
    Map<Path, double[]> out = new HashMap<>();
    try (DataLoader l = new DataLoader(ds.test(), ds.evalTransform(), DataLoader.Options.batch(N));
         var g = GradMode.disabled()) {
      DataLoader.Batch b = l.epoch(0).iterator().next();
      float[] v = m.call(b.x()).toFloatArray();
      for (int i = 0; i < N; i++) {
        int idx = b.indices()[i];
        Image img = ds.test().get(idx).image();
        BufferedImage png = new BufferedImage(img.width(), img.height(), BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < img.height(); y++) {
          for (int x = 0; x < img.width(); x++) {
            png.getRaster().setSample(x, y, 0, Math.round(img.get(0, y, x) * 255f));
          }
        }
        Path f = dir.resolve(NAMES.get(ds.test().label(idx))).resolve(String.format("img%d.png", i));
        Files.createDirectories(f.getParent());
        assertTrue(ImageIO.write(png, "png", f.toFile()));
        ImagePredictions.Row row = ImagePredictions.top(f, v, i * NAMES.size(), NAMES.size(), NAMES.size());
        double[] byClass = new double[NAMES.size()];
        for (int j = 0; j < NAMES.size(); j++) {
          byClass[row.classes()[j]] = row.probabilities()[j];
        }
        out.put(f, byClass);
      }
    }
    return out;
  }

  @Test
  void predictAndEvalUseThePreprocessingRecordedWithTheWeights() throws Exception {
    Path assets = Demo.assets();
    Path w = finetune(assets);
    Preprocess recorded = Preprocess.parse(Safetensors.open(w).metadata().get(Preprocess.KEY), "test");
    assertEquals(new Preprocess(1, 0, new int[] {28, 28}, 0, new float[] {0.2860f}, new float[] {0.3530f}),
        recorded);
    assertEquals(recorded, Preprocess.parse(Files.readString(w.resolveSibling(Preprocess.FILE)), "test"));
    Path imgs = tmp.resolve("imgs");
    Map<Path, double[]> want = pngsAndExpected(assets, w, imgs);

    Path json = tmp.resolve("preds.json");
    Result r = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images", imgs.toString(),
        "--out", json.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(!r.err().contains("warning"), r.err());
    JsonNode rows = new ObjectMapper().readTree(json.toFile());
    assertEquals(N, rows.size());
    for (JsonNode row : rows) {
      double[] p = want.get(Path.of(row.get("path").asText()));
      for (JsonNode pred : row.get("predictions")) {
        assertEquals(p[pred.get("index").asInt()], pred.get("probability").asDouble(), 1e-6, row.toString());
      }
    }

    // graft eval of the PNGs as an ImageFolder's test split: the recorded statistics, not the ImageFolder's 0.5/0.5
    Path root = tmp.resolve("folder");
    Files.createDirectories(root.resolve("train"));
    Files.move(imgs, root.resolve("val"));
    double loss = 0;
    for (Map.Entry<Path, double[]> e : want.entrySet()) {
      loss -= Math.log(e.getValue()[NAMES.indexOf(e.getKey().getParent().getFileName().toString())]);
    }
    Result e = run("eval", "--model", "smallcnn", "--weights", w.toString(), "--data", root.toString(),
        "--workers", "0");
    assertEquals(0, e.code(), e.err());
    assertTrue(e.out().contains(String.format("on %d images: loss %.4f,", N, loss / N)), e.out() + " vs " + loss / N);
  }

  @Test
  void aBicubicRecordRoundTripsAndAnUnknownInterpolationIsRefusedNamingIt() {
    Preprocess p = new Preprocess(3, 0, new int[] {320}, io.graft.finetune.transforms.Interpolation.BICUBIC, 300,
        new float[] {0.485f, 0.456f, 0.406f}, new float[] {0.229f, 0.224f, 0.225f});
    Preprocess back = Preprocess.parse(p.toJson(), "preprocess.json");
    assertEquals(p, back);
    assertTrue(back.describe().contains("Resize(320, bicubic)"), back.describe());
    assertTrue(back.transform().toString().contains("bicubic"), back.transform().toString());
    // the same numbers with bilinear are another preprocessing
    assertNotEquals(p, new Preprocess(3, 0, new int[] {320}, 300, p.mean(), p.std()));
    String lanczos = p.toJson().replace("\"bicubic\"", "\"lanczos\"");
    GraftException e = assertThrows(GraftException.class, () -> Preprocess.parse(lanczos, "run/preprocess.json"));
    assertTrue(e.getMessage().contains("run/preprocess.json") && e.getMessage().contains("lanczos"), e.getMessage());
  }

  @Test
  void anExplicitImageSizeThatContradictsTheRecordIsRefusedNamingBoth() throws Exception {
    Path assets = Demo.assets();
    Path w = finetune(assets);
    Path imgs = tmp.resolve("imgs");
    pngsAndExpected(assets, w, imgs);
    Result r = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images", imgs.toString(),
        "--image-size", "224");
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().contains("--image-size 224") && r.err().contains("28x28") && r.err().contains(w.toString()),
        r.err());
    Result e = run("eval", "--model", "smallcnn", "--weights", w.toString(), "--data", "fashion-mnist:" + assets,
        "--classes", "5-6", "--image-size", "32");
    assertEquals(Graft.BAD_INPUT, e.code(), e.err());
    assertTrue(e.err().contains("--image-size 32") && e.err().contains("28x28"), e.err());
    Result same = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images", imgs.toString(),
        "--image-size", "28");
    assertEquals(0, same.code(), same.err());
  }

  @Test
  void weightsWithoutTheRecordWarnOnceAndKeepTheImageFolderDefault() throws Exception {
    io.graft.core.init.Init.manualSeed(3);
    Module m = io.graft.zoo.models.Zoo.create("smallcnn", 2);
    Path w = Files.createDirectories(tmp.resolve("old")).resolve("model.safetensors");
    Safetensors.write(w, m.stateDict(), ClassNames.metadata(NAMES)); // as Graft wrote before the record
    Path imgs = tmp.resolve("imgs");
    TinyImageFolder.images(imgs, "a", 2, 5, 7);
    Result r = run("predict", "--model", "smallcnn", "--weights", w.toString(), "--images", imgs.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals(1, r.err().lines().filter(l -> l.contains("preprocessing")).count(), r.err());
    assertTrue(r.err().contains("graft: warning: " + w + " has no recorded preprocessing")
        && r.err().contains("Normalize(mean=[0.5], std=[0.5])"), r.err());

    Map<String, String> meta = new HashMap<>(ClassNames.metadata(NAMES));
    meta.put(Preprocess.KEY, "{\"input_channels\": 2}");
    Path bad = tmp.resolve("bad.safetensors");
    Safetensors.write(bad, m.stateDict(), meta);
    Result b = run("predict", "--model", "smallcnn", "--weights", bad.toString(), "--images", imgs.toString());
    assertEquals(Graft.BAD_INPUT, b.code(), b.err());
    assertTrue(b.err().contains(bad + " (metadata 'graft.preprocess')") && b.err().contains("input_channels"),
        b.err());
  }
}
