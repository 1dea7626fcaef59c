package io.graft.finetune.data;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import java.util.ArrayList;
import java.util.List;

/**
 * A finite, indexable set of labelled images (PyTorch's map-style {@code Dataset}). Implementations must be safe
 * to read from several threads; the {@link DataLoader} decodes and applies transforms (with a seeded generator
 * per example and epoch) on background threads.
 */
public interface Dataset {
  /** The number of examples; {@link #get} accepts indices {@code 0 .. size() - 1}. */
  int size();

  /** The i-th example, untransformed. */
  Example get(int index);

  /** Class names by index ({@code classes[label]}). */
  List<String> classes();

  /** The number of classes, {@code classes().size()}: labels lie in {@code [0, numClasses())}. */
  default int numClasses() {
    return classes().size();
  }

  /** The label of an example without decoding its image where the dataset can (IDX, ImageFolder can). */
  default int label(int index) {
    return get(index).label();
  }

  /**
   * Where example {@code index} comes from, for error messages: its file where the dataset reads files
   * ({@link ImageFolder}), else {@code "example <index>"}.
   */
  default String source(int index) {
    return "example " + index;
  }

  /** The examples at {@code indices}, in that order. */
  default Dataset subset(int[] indices) {
    return Subset.of(this, indices);
  }

  /** Only examples whose label is in {@code keep}, relabelled 0.. in the order of {@code keep}. */
  default Dataset selectClasses(int... keep) {
    return Subset.classes(this, keep);
  }

  /** The first {@code perClass} examples of every class, in dataset order (few-shot sampling, deterministic). */
  default Dataset firstPerClass(int perClass) {
    return Subset.firstPerClass(this, perClass);
  }

  /** {@code perClass} examples of every class drawn with {@code rng} (few-shot sampling, seeded). */
  default Dataset samplePerClass(int perClass, Rng rng) {
    return Subset.samplePerClass(this, perClass, rng);
  }

  /** A seeded split into (train, validation) with {@code valFraction} of the examples in validation. */
  default List<Dataset> split(double valFraction, Rng rng) {
    if (!(valFraction > 0 && valFraction < 1)) {
      throw new GraftException("split: valFraction must be in (0, 1), got " + valFraction);
    }
    int[] perm = rng.permutation(size());
    int nVal = (int) Math.round(size() * valFraction);
    int[] val = new int[nVal];
    int[] train = new int[size() - nVal];
    System.arraycopy(perm, 0, val, 0, nVal);
    System.arraycopy(perm, nVal, train, 0, train.length);
    java.util.Arrays.sort(val);
    java.util.Arrays.sort(train);
    List<Dataset> out = new ArrayList<>();
    out.add(subset(train));
    out.add(subset(val));
    return out;
  }
}
