package io.graft.finetune.transforms;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.graft.core.random.Rng;
import io.graft.finetune.data.Image;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import org.junit.jupiter.api.Test;

/**
 * Every transform survives Java serialization (how graft-spark ships preprocessing to Spark executors): the copy
 * gives the original's output, random ones included for the same generator.
 */
class TransformSerializationTest {
  @Test
  void aSerializedCopyTransformsAsTheOriginal() throws Exception {
    Transform lambda = (img, rng) -> new Image(img.channels(), img.height(), img.width(), img.data().clone());
    Transform all = Compose.of(new RandomResizedCrop(16), new RandomHorizontalFlip(), new ColorJitter(0.2, 0.2, 0.2,
        0.05), new RandomCrop(14, 2), new Resize(12), new CenterCrop(10), new Grayscale(3), Normalize.IMAGENET,
        lambda);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream o = new ObjectOutputStream(bytes)) {
      o.writeObject(all);
    }
    Transform copy;
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      copy = (Transform) in.readObject();
    }
    float[] px = new float[3 * 20 * 24];
    java.util.Random r = new java.util.Random(1);
    for (int i = 0; i < px.length; i++) {
      px[i] = r.nextFloat();
    }
    Image img = new Image(3, 20, 24, px);
    assertArrayEquals(all.apply(img, new Rng(7)).data(), copy.apply(img, new Rng(7)).data());
  }
}
