package io.graft.finetune.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Formats beyond the JDK's ImageIO, decoded through {@link ImageDecoder} with the TwelveMonkeys plug-ins on
 * graft-finetune's runtime classpath. WebP, lossless and lossy: the JDK has no WebP reader, so without the plug-in
 * both files are "not a decodable image" (checked). A CMYK JPEG (Adobe APP14, 4 components): TwelveMonkeys'
 * reader is registered ahead of the JDK's and converts it to RGB; JDK 17's own reader also decodes this file (and
 * the same file with an embedded CMYK ICC profile), so that test guards the conversion rather than the plug-in.
 * The files under {@code src/test/resources/images} were made with ImageMagick 6.9 and libwebp's {@code cwebp}:
 * an 8×8 pure red image converted to CMYK ({@code convert -size 8x8 xc:red -colorspace CMYK -quality 95}), and
 * an 8×8 image whose left half is {@code #ff0000} and right half {@code #0000ff} ({@code cwebp -lossless} and
 * {@code cwebp -q 90}).
 */
class ImageFormatsTest {
  @TempDir
  Path tmp;

  private Path resource(String name) throws IOException {
    Path p = tmp.resolve(name);
    try (InputStream in = ImageFormatsTest.class.getResourceAsStream("/images/" + name)) {
      if (in == null) {
        throw new IOException("missing test resource /images/" + name);
      }
      Files.copy(in, p);
    }
    return p;
  }

  private static int[] rgb(BufferedImage img, int x, int y) {
    int p = img.getRGB(x, y);
    return new int[] {(p >> 16) & 0xff, (p >> 8) & 0xff, p & 0xff};
  }

  @Test
  void cmykJpegDecodesToRgb() throws IOException {
    BufferedImage img = ImageDecoder.read(resource("cmyk-red-8x8.jpg"));
    assertEquals(8, img.getWidth());
    assertEquals(8, img.getHeight());
    // CMYK (0, 100, 100, 0) through a CMYK profile is a strong red, not exactly #ff0000; an inverted or
    // unconverted CMYK image would come out cyan or black
    for (int y = 0; y < 8; y++) {
      for (int x = 0; x < 8; x++) {
        int[] c = rgb(img, x, y);
        assertTrue(c[0] > 180 && c[1] < 90 && c[2] < 90,
            "pixel (" + x + "," + y + ") = " + c[0] + "," + c[1] + "," + c[2] + " is not red");
      }
    }
  }

  /** An ImageFolder lists .webp files, as torchvision's does (they decode through the WebP plug-in). */
  @Test
  void anImageFolderReadsWebp(@org.junit.jupiter.api.io.TempDir Path root) throws IOException {
    Path cls = java.nio.file.Files.createDirectories(root.resolve("a"));
    java.nio.file.Files.copy(resource("red-blue-8x8-lossless.webp"), cls.resolve("x.webp"));
    ImageFolder f = new ImageFolder(root);
    assertEquals(1, f.size());
    assertEquals(8, f.get(0).image().width());
  }

  @Test
  void losslessWebpDecodesExactly() throws IOException {
    BufferedImage img = ImageDecoder.read(resource("red-blue-8x8-lossless.webp"));
    assertEquals(8, img.getWidth());
    assertEquals(8, img.getHeight());
    for (int y = 0; y < 8; y++) {
      for (int x = 0; x < 8; x++) {
        int[] want = x < 4 ? new int[] {255, 0, 0} : new int[] {0, 0, 255};
        int[] c = rgb(img, x, y);
        assertEquals(want[0], c[0], "red at (" + x + "," + y + ")");
        assertEquals(want[1], c[1], "green at (" + x + "," + y + ")");
        assertEquals(want[2], c[2], "blue at (" + x + "," + y + ")");
      }
    }
  }

  @Test
  void lossyWebpDecodesApproximately() throws IOException {
    BufferedImage img = ImageDecoder.read(resource("red-blue-8x8-lossy.webp"));
    assertEquals(8, img.getWidth());
    assertEquals(8, img.getHeight());
    // away from the edge between the halves, lossy VP8 keeps each half's colour within a few levels
    for (int y = 0; y < 8; y++) {
      int[] left = rgb(img, 0, y);
      int[] right = rgb(img, 7, y);
      assertTrue(left[0] > 200 && left[1] < 50 && left[2] < 50,
          "left pixel of row " + y + " = " + left[0] + "," + left[1] + "," + left[2] + " is not red");
      assertTrue(right[0] < 50 && right[1] < 50 && right[2] > 200,
          "right pixel of row " + y + " = " + right[0] + "," + right[1] + "," + right[2] + " is not blue");
    }
  }
}
