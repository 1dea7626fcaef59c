package io.graft.finetune.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import io.graft.finetune.transforms.Transform;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link DataLoader#batch}: a replica's shard loads exactly the tensors the loader's epoch gives those examples (the
 * random transform included), and {@link Dataset#source} names an ImageFolder's files through subsets.
 */
class DataLoaderBatchTest {
  /** Ten 1x2x2 images, image i filled with i. */
  static final class Numbers implements Dataset {
    @Override
    public int size() {
      return 10;
    }

    @Override
    public Example get(int i) {
      return new Example(new Image(1, 2, 2, new float[] {i, i, i, i}), i % 3);
    }

    @Override
    public List<String> classes() {
      return List.of("a", "b", "c");
    }
  }

  @Test
  void aShardIsWhatTheEpochGivesItsExamples() {
    Transform noise = (img, rng) -> {
      float[] d = img.data().clone();
      for (int k = 0; k < d.length; k++) {
        d[k] += rng.nextFloat();
      }
      return new Image(img.channels(), img.height(), img.width(), d);
    };
    try (DataLoader l = new DataLoader(new Numbers(), noise, DataLoader.Options.batch(4).withShuffle(true)
        .withSeed(9).withWorkers(0))) {
      int epoch = 2;
      int[] order = l.order(epoch);
      DataLoader.Batch second = null;
      int b = 0;
      for (DataLoader.Batch batch : l.epoch(epoch)) {
        if (b++ == 1) {
          second = batch;
        }
      }
      // the second global batch's last two examples, loaded alone
      DataLoader.Batch shard = l.batch(new int[] {order[6], order[7]}, epoch);
      float[] all = second.x().toFloatArray();
      assertArrayEquals(java.util.Arrays.copyOfRange(all, 8, 16), shard.x().toFloatArray());
      assertArrayEquals(new long[] {order[6] % 3, order[7] % 3}, shard.y().toLongArray());
      assertThrows(GraftException.class, () -> l.batch(new int[] {10}, epoch));
      assertThrows(GraftException.class, () -> l.batch(new int[0], epoch));
    }
  }

  @Test
  void sourceNamesTheFileThroughSubsets(@TempDir Path tmp) throws Exception {
    for (String c : List.of("x", "y")) {
      Path d = Files.createDirectories(tmp.resolve(c));
      for (int i = 0; i < 2; i++) {
        java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(4, 4,
            java.awt.image.BufferedImage.TYPE_BYTE_GRAY);
        javax.imageio.ImageIO.write(img, "png", d.resolve(i + ".png").toFile());
      }
    }
    ImageFolder f = new ImageFolder(tmp);
    assertEquals(tmp.resolve("y").resolve("1.png").toString(), f.source(3));
    assertEquals(tmp.resolve("y").resolve("0.png").toString(), f.selectClasses(1).source(0));
    assertEquals("example 4", new Numbers().source(4));
  }
}
