package io.graft.finetune.data;

import io.graft.core.GraftException;
import io.graft.core.random.Rng;
import java.util.ArrayList;
import java.util.List;

/** Index-mapped views of a dataset: subsets, class selection with relabelling, few-shot sampling. */
final class Subset implements Dataset {
  private final Dataset base;
  private final int[] indices;
  private final int[] relabel;
  private final List<String> classes;

  private Subset(Dataset base, int[] indices, int[] relabel, List<String> classes) {
    this.base = base;
    this.indices = indices;
    this.relabel = relabel;
    this.classes = classes;
  }

  static Dataset of(Dataset base, int[] indices) {
    for (int i : indices) {
      if (i < 0 || i >= base.size()) {
        throw new GraftException("subset index " + i + " out of range for a dataset of " + base.size());
      }
    }
    return new Subset(base, indices.clone(), null, base.classes());
  }

  static Dataset classes(Dataset base, int[] keep) {
    int[] map = new int[base.numClasses()];
    java.util.Arrays.fill(map, -1);
    List<String> names = new ArrayList<>();
    for (int k = 0; k < keep.length; k++) {
      if (keep[k] < 0 || keep[k] >= map.length) {
        throw new GraftException("class " + keep[k] + " out of range (dataset has " + map.length + " classes)");
      }
      if (map[keep[k]] >= 0) {
        throw new GraftException("class " + keep[k] + " selected twice");
      }
      map[keep[k]] = k;
      names.add(base.classes().get(keep[k]));
    }
    List<Integer> idx = new ArrayList<>();
    for (int i = 0; i < base.size(); i++) {
      if (map[base.label(i)] >= 0) {
        idx.add(i);
      }
    }
    return new Subset(base, idx.stream().mapToInt(Integer::intValue).toArray(), map, names);
  }

  static Dataset firstPerClass(Dataset base, int perClass) {
    int[] count = new int[base.numClasses()];
    List<Integer> idx = new ArrayList<>();
    for (int i = 0; i < base.size(); i++) {
      int l = base.label(i);
      if (count[l] < perClass) {
        count[l]++;
        idx.add(i);
      }
    }
    checkEnough(base, count, perClass);
    return of(base, idx.stream().mapToInt(Integer::intValue).toArray());
  }

  static Dataset samplePerClass(Dataset base, int perClass, Rng rng) {
    int[] perm = rng.permutation(base.size());
    int[] count = new int[base.numClasses()];
    List<Integer> idx = new ArrayList<>();
    for (int i : perm) {
      int l = base.label(i);
      if (count[l] < perClass) {
        count[l]++;
        idx.add(i);
      }
    }
    checkEnough(base, count, perClass);
    return of(base, idx.stream().mapToInt(Integer::intValue).sorted().toArray());
  }

  private static void checkEnough(Dataset base, int[] count, int perClass) {
    for (int c = 0; c < count.length; c++) {
      if (count[c] < perClass) {
        throw new GraftException("class " + c + " (" + base.classes().get(c) + ") has only " + count[c]
            + " examples, " + perClass + " requested");
      }
    }
  }

  @Override
  public int size() {
    return indices.length;
  }

  @Override
  public Example get(int index) {
    Example e = base.get(indices[index]);
    return relabel == null ? e : new Example(e.image(), relabel[e.label()]);
  }

  @Override
  public String source(int index) {
    return base.source(indices[index]);
  }

  @Override
  public int label(int index) {
    int l = base.label(indices[index]);
    return relabel == null ? l : relabel[l];
  }

  @Override
  public List<String> classes() {
    return classes;
  }
}
