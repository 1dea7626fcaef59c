package io.graft.spark.train;

import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.io.Safetensors;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.data.Dataset;
import io.graft.finetune.data.Example;
import io.graft.finetune.data.Image;
import io.graft.finetune.train.Replica;
import io.graft.layers.Flatten;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.Sequential;
import io.graft.layers.activation.ReLU;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.loss.CrossEntropyLoss;
import io.graft.layers.pool.MaxPool2d;
import io.graft.optim.SGD;
import io.graft.zoo.models.SmallCNN;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The replica of the data-parallel tests: the DDP fixture's 96 images (tools/ddp_reference.py), loaded in order in
 * global batches of {@code batch}, SGD (lr 0.05, momentum 0.9, weight decay 1e-4), cross-entropy, and either
 * Graft's SmallCNN with the fixture's initial weights (BatchNorm) or a small network without BatchNorm seeded by
 * {@code Init.manualSeed(7)}.
 */
record FixtureReplica(String fixture, boolean batchNorm, int batch, boolean shuffle, String gateAfter,
    String gateMarker) implements Replica.Factory {
  /** No gate. */
  FixtureReplica(String fixture, boolean batchNorm, int batch, boolean shuffle) {
    this(fixture, batchNorm, batch, shuffle, null, null);
  }

  @Override
  public Replica build() {
    Safetensors.File f = Safetensors.open(Path.of(fixture));
    Module m;
    if (batchNorm) {
      m = new SmallCNN(10);
      m.loadStateDict(f.tensors().withPrefixStripped("init/"), true);
    } else {
      Init.manualSeed(7);
      m = new Sequential(new Conv2d(1, 8, 3, Conv2d.Options.defaults().withPadding(1)), new ReLU(), new MaxPool2d(2),
          new Flatten(), new Linear(8 * 14 * 14, 10));
    }
    SGD opt = new SGD(SGD.Options.lr(0.05).withMomentum(0.9).withWeightDecay(1e-4), m.namedParameters());
    DataLoader loader = new DataLoader(new Images(f.tensor("x"), f.tensor("y"), gateAfter, gateMarker), null,
        DataLoader.Options.batch(batch).withShuffle(shuffle).withSeed(11).withWorkers(0));
    return new Replica(m, opt, new CrossEntropyLoss(), loader);
  }

  /**
   * The fixture's images as a dataset. With a gate: the first image read (in any JVM) once the file {@code gateAfter}
   * exists writes this JVM's process id to {@code gateMarker} and blocks (at most 2 minutes), so that a test can kill
   * this JVM while it is inside a training step; without a marker, every read once {@code gateAfter} exists fails.
   */
  static final class Images implements Dataset {
    private final float[] x;
    private final long[] y;
    private final int per;
    private final String gateAfter;
    private final String gateMarker;

    Images(Tensor x, Tensor y, String gateAfter, String gateMarker) {
      this.x = x.toFloatArray();
      this.y = y.toLongArray();
      this.per = this.x.length / this.y.length;
      this.gateAfter = gateAfter;
      this.gateMarker = gateMarker;
    }

    private void gate(int i) {
      if (gateAfter == null || !Files.exists(Path.of(gateAfter))) {
        return;
      }
      if (gateMarker == null) {
        throw new io.graft.core.GraftException("cannot read " + source(i) + " (the test's gate)");
      }
      try {
        Files.writeString(Path.of(gateMarker), String.valueOf(ProcessHandle.current().pid()),
            StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      } catch (java.nio.file.FileAlreadyExistsException e) {
        return; // the gate closes once
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      long end = System.nanoTime() + 120_000_000_000L;
      while (System.nanoTime() < end) {
        try {
          Thread.sleep(50);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }

    @Override
    public int size() {
      return y.length;
    }

    @Override
    public Example get(int i) {
      gate(i);
      float[] d = java.util.Arrays.copyOfRange(x, i * per, (i + 1) * per);
      return new Example(new Image(1, 28, 28, d), (int) y[i]);
    }

    @Override
    public List<String> classes() {
      return IntStream.range(0, 10).mapToObj(String::valueOf).toList();
    }
  }

  /** A copy of {@code m}'s state dict (detached). */
  static StateDict copy(Module m) {
    StateDict out = new StateDict();
    m.stateDict().forEach(e -> out.put(e.getKey(), Tensor.of(e.getValue().data().dup())));
    return out;
  }
}
