package io.graft.finetune.cli;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import io.graft.finetune.data.Dataset;
import io.graft.finetune.data.IdxDataset;
import io.graft.finetune.data.ImageFolder;
import io.graft.finetune.transforms.CenterCrop;
import io.graft.finetune.transforms.ColorJitter;
import io.graft.finetune.transforms.Compose;
import io.graft.finetune.transforms.Grayscale;
import io.graft.finetune.transforms.Normalize;
import io.graft.finetune.transforms.RandomHorizontalFlip;
import io.graft.finetune.transforms.RandomResizedCrop;
import io.graft.finetune.transforms.Resize;
import io.graft.finetune.transforms.Transform;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code --data} values: {@code fashion-mnist:DIR}, {@code mnist:DIR} (IDX files; validation is a seeded 10% of
 * the selected training images, test the test files), or an ImageFolder root with {@code train/}, {@code val/} and
 * optionally {@code test/} (else validation doubles as test). Transforms follow the model: 1×28×28 normalised for
 * {@code smallcnn}; otherwise ImageNet-style 3-channel crops of {@code imageSize} (RandomResizedCrop + flip for
 * training, Resize + CenterCrop for evaluation) with ImageNet statistics; {@link Augment} picks the training part.
 * {@code missing}: for each ImageFolder split (train, val, test) that lacks some of the run's classes, their names;
 * {@code testSplit}: the folder the test images come from ({@code test}, or {@code val} when there is no test/).
 */
record DataSource(Dataset train, Dataset val, Dataset test, Transform trainTransform, Preprocess preprocess,
    Map<String, List<String>> missing, String testSplit) {
  /** The evaluation transform: the one {@link #preprocess} describes. */
  Transform evalTransform() {
    return preprocess.transform();
  }

  static Path fashionMnistDir(String data) {
    if (!data.startsWith("fashion-mnist:")) {
      throw new GraftException("--data must be fashion-mnist:DIR here, got '" + data + "'");
    }
    return Path.of(data.substring("fashion-mnist:".length()));
  }

  /** "5-9" or "0,2,4" (null: all). */
  static int[] classes(String spec, int available) {
    if (spec == null) {
      int[] all = new int[available];
      for (int i = 0; i < available; i++) {
        all[i] = i;
      }
      return all;
    }
    List<Integer> out = new ArrayList<>();
    try {
      for (String part : spec.split(",")) {
        if (part.contains("-")) {
          String[] ab = part.split("-");
          for (int i = Integer.parseInt(ab[0].trim()); i <= Integer.parseInt(ab[1].trim()); i++) {
            out.add(i);
          }
        } else {
          out.add(Integer.parseInt(part.trim()));
        }
      }
    } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
      throw new GraftException("--classes: expected a range like 5-9 or a list like 0,2,4, got '" + spec + "'");
    }
    for (int c : out) {
      if (c < 0 || c >= available) {
        throw new GraftException("--classes: class " + c + " does not exist (the data has " + available + ")");
      }
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  static DataSource open(String data, String classSpec, Integer perClass, String model, int imageSize, long seed) {
    return open(data, classSpec, perClass, model, imageSize, seed, null, Augment.defaultFor(false,
        model.equals("smallcnn")), null);
  }

  /**
   * Opens {@code --data}. The run's one class list comes from train/ (its folder names, sorted as torchvision sorts
   * them), or is {@code knownClasses} when given (the class names a model or checkpoint saved); val/ and test/ are
   * mapped to it by name (see {@link #missing}). For IDX data the selected classes must equal {@code knownClasses}.
   * With {@code recorded} (the preprocessing saved with a model's weights), images are decoded to its channels and
   * evaluated with its transform, whatever the data source's own statistics.
   */
  static DataSource open(String data, String classSpec, Integer perClass, String model, int imageSize, long seed,
      List<String> knownClasses, Augment augment, Preprocess recorded) {
    boolean small = model.equals("smallcnn");
    Dataset train;
    Dataset val;
    Dataset test;
    boolean gray;
    float[][] stats;
    Map<String, List<String>> missing = new LinkedHashMap<>();
    String testSplit = "test";
    if (data.startsWith("fashion-mnist:") || data.startsWith("mnist:")) {
      boolean fashion = data.startsWith("fashion-mnist:");
      Path dir = Path.of(data.substring(data.indexOf(':') + 1));
      Dataset fullTrain = fashion ? IdxDataset.fashionMnist(dir, true) : IdxDataset.mnist(dir, true);
      Dataset fullTest = fashion ? IdxDataset.fashionMnist(dir, false) : IdxDataset.mnist(dir, false);
      int[] keep = classes(classSpec, fullTrain.numClasses());
      Dataset selected = fullTrain.selectClasses(keep);
      if (knownClasses != null && !knownClasses.equals(selected.classes())) {
        throw new GraftException("--data " + data + (classSpec == null ? "" : " --classes " + classSpec)
            + " gives the classes " + selected.classes() + ", but the model was trained on " + knownClasses + ": "
            + ClassNames.differences(knownClasses, selected.classes()));
      }
      // validation is 10% of the selected classes, split off first: --per-class N then leaves N training images
      List<Dataset> split = selected.split(0.1, new Rng(seed));
      train = perClass != null ? split.get(0).firstPerClass(perClass) : split.get(0);
      val = split.get(1);
      test = fullTest.selectClasses(keep);
      if (recorded != null && recorded.channels() != 1) {
        throw new GraftException("--data " + data + " holds 1-channel images, but the weights' recorded "
            + "preprocessing takes " + recorded.channels() + "-channel images (" + recorded.describe() + ")");
      }
      gray = true;
      stats = fashion ? new float[][] {{0.2860f}, {0.3530f}} : new float[][] {{0.1307f}, {0.3081f}};
    } else {
      Path root = Path.of(data);
      if (!Files.isDirectory(root.resolve("train")) || !Files.isDirectory(root.resolve("val"))) {
        throw new GraftException("--data " + data + ": expected fashion-mnist:DIR, mnist:DIR, or an ImageFolder root"
            + " with train/ and val/ sub-folders");
      }
      int channels = recorded != null ? recorded.channels() : imageChannels(model);
      if (knownClasses != null) {
        // evaluation of a model that saved its classes: only the test images (val/ without test/) are read
        testSplit = Files.isDirectory(root.resolve("test")) ? "test" : "val";
        ImageFolder te = new ImageFolder(root.resolve(testSplit), channels, knownClasses);
        if (!te.missingClasses().isEmpty()) {
          missing.put(testSplit, te.missingClasses());
        }
        train = te;
        val = te;
        if (classSpec != null) { // it would renumber the labels the saved names fixed, silently
          throw new GraftException("--classes " + classSpec + ": the weights carry their class names " + knownClasses
              + ", and the test folder is matched to them by name; leave out --classes");
        }
        test = te;
        Preprocess evalP = recorded != null ? recorded : evalPreprocess(small, false, null, imageSize);
        Transform evalT = evalP.transform();
        return new DataSource(test, test, test, evalT, evalP, missing, testSplit);
      }
      ImageFolder tr = new ImageFolder(root.resolve("train"), channels, null);
      List<String> names = tr.classes();
      ImageFolder va = new ImageFolder(root.resolve("val"), channels, names);
      ImageFolder te = Files.isDirectory(root.resolve("test")) ? new ImageFolder(root.resolve("test"), channels, names)
          : va;
      testSplit = te == va ? "val" : "test";
      for (ImageFolder f : new ImageFolder[] {tr, va, te}) {
        if (!f.missingClasses().isEmpty()) {
          missing.put(f.root().getFileName().toString(), f.missingClasses());
        }
      }
      train = tr;
      val = va;
      test = te;
      if (classSpec != null) {
        int[] keep = classes(classSpec, train.numClasses());
        train = train.selectClasses(keep);
        val = val.selectClasses(keep);
        test = test.selectClasses(keep);
      }
      if (perClass != null) {
        train = train.firstPerClass(perClass);
      }
      gray = small;
      stats = null;
    }
    Preprocess evalP = recorded != null ? recorded : evalPreprocess(small, gray, stats, imageSize);
    Transform evalT = evalP.transform();
    Transform trainT;
    if (small) {
      float[][] s = stats != null ? stats : new float[][] {{0.5f}, {0.5f}};
      Normalize norm = new Normalize(s[0], s[1]);
      Transform size = gray && stats != null ? null : new Resize(28, 28);
      trainT = switch (augment) {
        case NONE -> evalT;
        case FLIP -> size == null ? Compose.of(new RandomHorizontalFlip(), norm)
            : Compose.of(size, new RandomHorizontalFlip(), norm);
        case STANDARD -> Compose.of(new RandomResizedCrop(28), new RandomHorizontalFlip(), norm);
        case STRONG -> Compose.of(new RandomResizedCrop(28), new RandomHorizontalFlip(),
            new ColorJitter(0.4, 0.4, 0, 0), norm);
      };
    } else {
      Transform rgb = gray ? new Grayscale(3) : (img, r) -> img;
      int resize = Math.round(imageSize * 256f / 224f);
      trainT = switch (augment) {
        case NONE -> evalT;
        case FLIP -> Compose.of(rgb, new Resize(resize), new CenterCrop(imageSize), new RandomHorizontalFlip(),
            Normalize.IMAGENET);
        case STANDARD -> Compose.of(rgb, new RandomResizedCrop(imageSize), new RandomHorizontalFlip(),
            Normalize.IMAGENET);
        case STRONG -> Compose.of(rgb, new RandomResizedCrop(imageSize), new RandomHorizontalFlip(),
            new ColorJitter(0.4, 0.4, 0.4, 0), Normalize.IMAGENET);
      };
    }
    return new DataSource(train, val, test, trainT, evalP, missing, testSplit);
  }

  /**
   * The evaluation preprocessing {@link #open} gives an ImageFolder's validation and test images for {@code model}:
   * what {@code graft predict --images} and {@code graft eval} assume for weights that record none.
   */
  static Preprocess imageEvalPreprocess(String model, int imageSize) {
    boolean small = model.equals("smallcnn");
    return evalPreprocess(small, small, null, imageSize);
  }

  /** The channels an ImageFolder is decoded to for {@code model}: 1 for smallcnn, 3 otherwise. */
  static int imageChannels(String model) {
    return model.equals("smallcnn") ? 1 : 3;
  }

  /**
   * Resize (to 28×28 for smallcnn, a no-op on IDX images; to 256/224 of the crop otherwise), centre crop, normalise
   * (the IDX source's statistics for smallcnn on IDX data, 0.5/0.5 for smallcnn on an ImageFolder, ImageNet's
   * otherwise); 1-channel images are replicated to 3 for the other models.
   */
  private static Preprocess evalPreprocess(boolean small, boolean gray, float[][] stats, int imageSize) {
    if (small) {
      float[][] s = stats != null ? stats : new float[][] {{0.5f}, {0.5f}};
      return new Preprocess(1, 0, new int[] {28, 28}, 0, s[0], s[1]);
    }
    int resize = Math.round(imageSize * 256f / 224f);
    return new Preprocess(gray ? 1 : 3, gray ? 3 : 0, new int[] {resize}, imageSize, Normalize.IMAGENET.mean(),
        Normalize.IMAGENET.std());
  }

}
