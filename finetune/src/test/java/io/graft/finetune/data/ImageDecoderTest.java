package io.graft.finetune.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import io.graft.finetune.transforms.CenterCrop;
import io.graft.finetune.transforms.Resize;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Decompression bombs: an image's pixel count is checked from its header before anything is decoded, and every
 * image a transform produces is checked before it is allocated (PIL's rule: refuse above twice 89,478,485 pixels).
 */
class ImageDecoderTest {
  @TempDir
  Path tmp;

  /** An 8-bit gray PNG of {@code w×h} zero pixels, deflated (a 14000×14000 one is about 200 KB). */
  static byte[] grayPng(int w, int h) throws IOException {
    ByteArrayOutputStream idat = new ByteArrayOutputStream();
    Deflater d = new Deflater(9);
    byte[] row = new byte[w + 1]; // filter byte 0, then w zero pixels
    byte[] buf = new byte[1 << 16];
    for (int y = 0; y < h; y++) {
      d.setInput(row);
      while (!d.needsInput()) {
        idat.write(buf, 0, d.deflate(buf));
      }
    }
    d.finish();
    while (!d.finished()) {
      idat.write(buf, 0, d.deflate(buf));
    }
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    png.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
    ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
    DataOutputStream hd = new DataOutputStream(ihdr);
    hd.writeInt(w);
    hd.writeInt(h);
    hd.write(new byte[] {8, 0, 0, 0, 0}); // bit depth 8, gray, deflate, adaptive filtering, no interlace
    chunk(png, "IHDR", ihdr.toByteArray());
    chunk(png, "IDAT", idat.toByteArray());
    chunk(png, "IEND", new byte[0]);
    return png.toByteArray();
  }

  private static void chunk(ByteArrayOutputStream out, String type, byte[] data) throws IOException {
    DataOutputStream o = new DataOutputStream(out);
    o.writeInt(data.length);
    byte[] t = type.getBytes(StandardCharsets.US_ASCII);
    o.write(t);
    o.write(data);
    CRC32 crc = new CRC32();
    crc.update(t);
    crc.update(data);
    o.writeInt((int) crc.getValue());
  }

  @Test
  void aSmallFileDeclaringTooManyPixelsIsRefusedBeforeDecoding() throws Exception {
    Path f = tmp.resolve("bomb.png");
    Files.write(f, grayPng(14000, 14000));
    assertTrue(Files.size(f) < 1_000_000, "the file is small: " + Files.size(f));
    assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
      GraftException e = assertThrows(GraftException.class, () -> ImageDecoder.read(f));
      assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("14000x14000")
          && e.getMessage().contains("196000000 pixels"), e.getMessage());
    });
  }

  /** 30000×30000 pixels overflowed an int in ToTensor (NegativeArraySizeException) before the check. */
  @Test
  void sizesBeyondAnIntAreRefusedCleanly() throws Exception {
    Path f = tmp.resolve("huge.png");
    Files.write(f, grayPng(30000, 1)); // a valid small image, then its header edited to claim 30000 rows
    byte[] b = Files.readAllBytes(f);
    Files.write(f, withHeight(b, 30000));
    GraftException e = assertThrows(GraftException.class, () -> ImageDecoder.read(f));
    assertTrue(e.getMessage().contains("900000000 pixels"), e.getMessage());
    assertThrows(GraftException.class, () -> Image.allocate(3, 30000, 30000, "test"));
  }

  private static byte[] withHeight(byte[] png, int h) {
    byte[] out = png.clone();
    // IHDR data starts at 8 (signature) + 8 (length, type); height at +4; then fix the CRC over type + data
    java.nio.ByteBuffer.wrap(out).putInt(16 + 4, h);
    CRC32 crc = new CRC32();
    crc.update(out, 12, 4 + 13);
    java.nio.ByteBuffer.wrap(out).putInt(12 + 4 + 13, (int) crc.getValue());
    return out;
  }

  @Test
  void anImageWithinTheLimitDecodes() throws Exception {
    Path f = tmp.resolve("ok.png");
    Files.write(f, grayPng(40, 30));
    assertEquals(40, ImageDecoder.read(f).getWidth());
  }

  /** An 84-byte 1×4000 strip under Resize(256) would become 256×1,024,000×3 floats (3 GiB): refused. */
  @Test
  void aTransformCannotBlowAThinStripUp() {
    Image strip = new Image(3, 1, 4000, new float[3 * 4000]);
    GraftException e = assertThrows(GraftException.class, () -> new Resize(256).apply(strip, new Rng(0)));
    assertTrue(e.getMessage().contains("Resize(256)") && e.getMessage().contains("262144000 pixels"),
        e.getMessage());
    assertThrows(GraftException.class, () -> new CenterCrop(20000).apply(strip, new Rng(0)));
  }

  @Test
  void damagedFilesNameTheFile() throws Exception {
    Path f = tmp.resolve("cut.png");
    byte[] b = grayPng(64, 64);
    Files.write(f, java.util.Arrays.copyOf(b, 40));
    GraftException e = assertThrows(GraftException.class, () -> ImageDecoder.read(f));
    assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
    Path text = tmp.resolve("text.png");
    Files.writeString(text, "not an image");
    assertTrue(assertThrows(GraftException.class, () -> ImageDecoder.read(text)).getMessage()
        .contains("not a decodable image"));
  }
}
