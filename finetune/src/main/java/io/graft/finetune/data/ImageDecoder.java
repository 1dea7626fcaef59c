package io.graft.finetune.data;

import io.graft.core.GraftException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Decodes an image file with ImageIO, reading its size from the header first: an image over
 * {@link Image#REFUSED_PIXELS} is refused before a pixel is decoded (a 570 KB PNG can declare 14000×14000), and
 * one over {@link Image#MAX_PIXELS} is decoded with a warning, as PIL does. A file no reader accepts, or one a
 * reader fails on, is a {@link GraftException} naming the file.
 */
public final class ImageDecoder {
  private static final System.Logger LOG = System.getLogger("io.graft");

  private ImageDecoder() {}

  /**
   * Decodes {@code file} with ImageIO (size checked from the header first); throws {@link GraftException} naming the
   * file if it cannot be opened or decoded or is over {@link Image#REFUSED_PIXELS} pixels.
   */
  public static BufferedImage read(Path file) {
    try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
      return decode(in, file.toString());
    } catch (IOException e) {
      throw new GraftException(file + ": cannot decode image: " + e, e);
    }
  }

  /**
   * Decodes an image file's {@code bytes} (read elsewhere: a Spark binary column, an archive entry) exactly as
   * {@link #read(Path)} decodes the file; {@code what} (its path or key) names it in every error.
   */
  public static BufferedImage read(byte[] bytes, String what) {
    try (ImageInputStream in = ImageIO.createImageInputStream(new java.io.ByteArrayInputStream(bytes))) {
      return decode(in, what);
    } catch (IOException e) {
      throw new GraftException(what + ": cannot decode image: " + e, e);
    }
  }

  private static BufferedImage decode(ImageInputStream in, String file) {
    try {
      if (in == null) {
        throw new GraftException(file + ": cannot open image");
      }
      Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
      if (!readers.hasNext()) {
        throw new GraftException(file + ": not a decodable image");
      }
      ImageReader reader = readers.next();
      try {
        reader.setInput(in, true, true);
        long w = reader.getWidth(0);
        long h = reader.getHeight(0);
        Image.checkSize(h, w, file);
        if (h * w > Image.MAX_PIXELS) {
          LOG.log(System.Logger.Level.WARNING, "Graft: " + file + ": a " + w + "x" + h + " image (" + h * w
              + " pixels) exceeds " + Image.MAX_PIXELS + " pixels; could be a decompression bomb");
        }
        BufferedImage img = reader.read(0);
        if (img == null) {
          throw new GraftException(file + ": not a decodable image");
        }
        return img;
      } finally {
        reader.dispose();
      }
    } catch (IOException | RuntimeException e) { // a decoder plug-in failing on a damaged file
      if (e instanceof GraftException g) {
        throw g;
      }
      throw new GraftException(file + ": cannot decode image: " + e, e);
    }
  }
}
