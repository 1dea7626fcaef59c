package io.graft.finetune.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import io.graft.finetune.transforms.Compose;
import io.graft.finetune.transforms.Normalize;
import io.graft.finetune.transforms.RandomCrop;
import io.graft.finetune.transforms.RandomHorizontalFlip;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** IDX and ImageFolder datasets, few-shot selection, splits, and the DataLoader's determinism. */
class DataTest {
  @TempDir
  static Path tmp;
  static IdxDataset demoTrain;

  @BeforeAll
  static void unpack() throws Exception {
    Path assets = io.graft.finetune.recipe.Demo.assets();
    demoTrain = new IdxDataset(assets.resolve("train-images-idx3-ubyte.gz"),
        assets.resolve("train-labels-idx1-ubyte.gz"),
        IdxDataset.FASHION_CLASSES);
  }

  @Test
  void idxReadsImagesAndLabels() {
    assertEquals(500, demoTrain.size());
    Example e = demoTrain.get(0);
    assertEquals(1, e.image().channels());
    assertEquals(28, e.image().height());
    assertTrue(e.label() >= 5 && e.label() <= 9);
    float max = 0;
    for (float v : e.image().data()) {
      max = Math.max(max, v);
      assertTrue(v >= 0 && v <= 1);
    }
    assertTrue(max > 0.5f);
    Dataset five = demoTrain.selectClasses(5, 6, 7, 8, 9);
    assertEquals(List.of("Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"), five.classes());
    int[] counts = new int[5];
    for (int i = 0; i < five.size(); i++) {
      counts[five.label(i)]++;
    }
    assertArrayEquals(new int[] {100, 100, 100, 100, 100}, counts);
    assertEquals(50, five.firstPerClass(10).size());
    assertEquals(25, five.samplePerClass(5, new Rng(1)).size());
    assertThrows(GraftException.class, () -> five.firstPerClass(101));
    List<Dataset> split = five.split(0.2, new Rng(3));
    assertEquals(400, split.get(0).size());
    assertEquals(100, split.get(1).size());
  }

  @Test
  void brokenIdxFilesAreClearErrors() throws Exception {
    Path bad = tmp.resolve("bad-images-idx3-ubyte");
    Files.write(bad, new byte[] {0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3});
    GraftException e = assertThrows(GraftException.class, () -> new IdxDataset(bad,
        tmp.resolve("train-labels-idx1-ubyte.gz"), IdxDataset.FASHION_CLASSES));
    assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
    assertThrows(GraftException.class, () -> IdxDataset.fashionMnist(tmp.resolve("nowhere"), true));
  }

  @Test
  void imageFolderReadsRealPngs() throws Exception {
    Path root = tmp.resolve("folder");
    Dataset five = demoTrain.selectClasses(5, 6, 7, 8, 9);
    List<float[]> written = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      Example e = five.get(i);
      Path dir = root.resolve(five.classes().get(e.label()).replace(' ', '_'));
      Files.createDirectories(dir);
      BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
      for (int y = 0; y < 28; y++) {
        for (int x = 0; x < 28; x++) {
          img.getRaster().setSample(x, y, 0, Math.round(e.image().get(0, y, x) * 255));
        }
      }
      ImageIO.write(img, "png", dir.resolve(String.format("img%02d.png", i)).toFile());
      written.add(e.image().data());
    }
    ImageFolder gray = new ImageFolder(root, 1);
    assertEquals(12, gray.size());
    List<String> sorted = new ArrayList<>(gray.classes());
    java.util.Collections.sort(sorted);
    assertEquals(sorted, gray.classes());
    // every written image comes back exactly (PNG is lossless)
    for (int i = 0; i < gray.size(); i++) {
      float[] px = gray.get(i).image().data();
      boolean found = written.stream().anyMatch(w -> java.util.Arrays.equals(w, px));
      assertTrue(found, "image " + i);
    }
    ImageFolder rgb = new ImageFolder(root);
    assertEquals(3, rgb.get(0).image().channels());
    assertThrows(GraftException.class, () -> new ImageFolder(tmp.resolve("missing")));
  }

  @Test
  void loaderIsDeterministicWhateverTheWorkers() {
    Dataset five = demoTrain.selectClasses(5, 6, 7, 8, 9);
    var t = Compose.of(new RandomCrop(28, 4), new RandomHorizontalFlip(), new Normalize(new float[] {0.286f},
        new float[] {0.353f}));
    float[] a;
    float[] b;
    try (DataLoader l0 = new DataLoader(five, t, DataLoader.Options.batch(64).withShuffle(true).withSeed(7)
        .withWorkers(0));
         DataLoader l3 = new DataLoader(five, t, DataLoader.Options.batch(64).withShuffle(true).withSeed(7)
             .withWorkers(3).withPrefetch(2))) {
      assertEquals(8, l0.numBatches());
      for (int epoch = 0; epoch < 2; epoch++) {
        var i0 = l0.epoch(epoch).iterator();
        var i3 = l3.epoch(epoch).iterator();
        while (i0.hasNext()) {
          DataLoader.Batch x = i0.next();
          DataLoader.Batch y = i3.next();
          assertArrayEquals(x.indices(), y.indices());
          assertArrayEquals(x.x().toFloatArray(), y.x().toFloatArray());
          assertArrayEquals(x.y().toLongArray(), y.y().toLongArray());
        }
      }
      a = l0.epoch(0).iterator().next().x().toFloatArray();
      b = l0.epoch(1).iterator().next().x().toFloatArray();
    }
    assertTrue(!java.util.Arrays.equals(a, b), "epochs shuffle and augment differently");
    try (DataLoader d = new DataLoader(five, null, DataLoader.Options.batch(64).withDropLast(true))) {
      assertEquals(7, d.numBatches());
      int n = 0;
      for (DataLoader.Batch x : d.epoch(0)) {
        assertEquals(64, x.size());
        n++;
      }
      assertEquals(7, n);
    }
  }
}
