package io.graft.finetune.transforms;

import static io.graft.testing.TensorAssert.assertClose;

import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.core.random.Rng;
import io.graft.finetune.data.Image;
import io.graft.testing.Fixtures;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** Transforms against torchvision 0.14's tensor transforms on a fixture image (tools/fixtures/transforms.py). */
class TransformsParityTest {
  static final Safetensors.File FIX = Fixtures.load("fixtures/transforms/transforms.safetensors");
  static final Rng RNG = new Rng(0);

  static Image image(String name) {
    Tensor t = FIX.tensor(name);
    long[] s = t.shape();
    return new Image((int) s[0], (int) s[1], (int) s[2], t.toFloatArray());
  }

  static Tensor tensor(Image i) {
    return Tensor.fromArray(i.data(), i.channels(), i.height(), i.width());
  }

  static void check(String expected, String input, UnaryOperator<Image> f, double atol) {
    assertClose(tensor(f.apply(image(input))), FIX.tensor(expected), atol, 0, expected);
  }

  @Test
  void geometric() {
    check("resize_24", "image", i -> new Resize(24).apply(i, RNG), 1e-6);
    check("resize_20x31", "image", i -> new Resize(20, 31).apply(i, RNG), 1e-6);
    check("resize_up_60", "image", i -> new Resize(60).apply(i, RNG), 1e-6);
    // bicubic: PyTorch's vectorised kernel rounds its four-tap sums in another order (about 10 float32 ulps apart)
    check("resize_bicubic_24", "image", i -> new Resize(24, Interpolation.BICUBIC).apply(i, RNG), 2e-6);
    check("resize_bicubic_20x31", "image", i -> new Resize(20, 31, Interpolation.BICUBIC).apply(i, RNG), 2e-6);
    check("resize_bicubic_up_60", "image", i -> new Resize(60, Interpolation.BICUBIC).apply(i, RNG), 2e-6);
    check("center_crop_30", "image", i -> new CenterCrop(30).apply(i, RNG), 0);
    check("center_crop_45", "image", i -> new CenterCrop(45).apply(i, RNG), 0);
    check("hflip", "image", i -> new RandomHorizontalFlip(1.0).apply(i, RNG), 0);
    check("crop_5_7_20_25", "image", i -> Geometry.crop(i, 5, 7, 20, 25), 0);
    check("resized_crop", "image", i -> Geometry.resize(Geometry.crop(i, 3, 4, 25, 30), 16, 16), 1e-6);
    // RandomCrop(20, padding=4) draws a window of the zero-padded image; this is the window at (2, 31)
    check("pad4_crop_2_31_20_20", "image", i -> Geometry.crop(i, 2 - 4, 31 - 4, 20, 20), 0);
  }

  @Test
  void toTensorOfPngFiles() throws Exception {
    java.awt.image.BufferedImage rgb = javax.imageio.ImageIO.read(Fixtures.path("fixtures/transforms/rgb.png")
        .toFile());
    java.awt.image.BufferedImage gray = javax.imageio.ImageIO.read(Fixtures.path("fixtures/transforms/gray.png")
        .toFile());
    assertClose(tensor(ToTensor.of(rgb, 3)), FIX.tensor("to_tensor_rgb"), 0, 0, "RGB");
    assertClose(tensor(ToTensor.of(rgb, 1)), FIX.tensor("to_tensor_rgb_as_luma"), 0, 0, "RGB as luma");
    assertClose(tensor(ToTensor.of(gray, 1)), FIX.tensor("to_tensor_gray"), 0, 0, "gray");
    // a 16-bit gray image: the stored level over 65535 (not the sRGB value Java's gray colour space would give)
    java.awt.image.BufferedImage g16 = new java.awt.image.BufferedImage(2, 1,
        java.awt.image.BufferedImage.TYPE_USHORT_GRAY);
    g16.getRaster().setSample(0, 0, 0, 32768);
    g16.getRaster().setSample(1, 0, 0, 65535);
    org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {32768f / 65535f, 1f},
        ToTensor.of(g16, 1).data());
  }

  @Test
  void photometric() {
    check("normalize", "image", i -> Normalize.IMAGENET.apply(i, RNG), 1e-6);
    check("brightness_1.3", "image", i -> ColorJitter.adjustBrightness(i, 1.3), 1e-6);
    check("contrast_0.6", "image", i -> ColorJitter.adjustContrast(i, 0.6), 1e-6);
    check("saturation_1.7", "image", i -> ColorJitter.adjustSaturation(i, 1.7), 1e-6);
    check("hue_0.2", "image", i -> ColorJitter.adjustHue(i, 0.2), 1e-5);
    check("hue_-0.35", "image", i -> ColorJitter.adjustHue(i, -0.35), 1e-5);
    check("gray_contrast_1.5", "gray", i -> ColorJitter.adjustContrast(i, 1.5), 1e-6);
    check("gray_brightness_0.5", "gray", i -> ColorJitter.adjustBrightness(i, 0.5), 1e-6);
  }
}
