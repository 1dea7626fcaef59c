package io.graft.spark.features;

import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.data.Dataset;
import io.graft.finetune.data.Example;
import io.graft.finetune.transforms.Transform;
import io.graft.layers.Module;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The executor side of every Graft Spark job: one partition's samples, decoded by their {@link ImageSource},
 * transformed and packed into batches of at most {@code batchSize} by Graft's {@link DataLoader} (so the tensors
 * equal a single-process run's), then run through a model borrowed from {@link ExecutorModels} in eval mode with
 * gradients off. Memory holds one batch of encoded and decoded images at a time.
 */
public final class PartitionBatches {
  private PartitionBatches() {}

  /** What to do with one batch: the model, the batch's samples and their images {@code (N, C, H, W)}. */
  @FunctionalInterface
  public interface Step {
    /** Handles one batch; {@code labels[i]} is sample {@code i}'s label (-1: unlabelled). */
    void accept(Module model, List<Sample> samples, Tensor x, long[] labels);
  }

  /** Runs {@code step} on every batch of {@code samples}. */
  public static void run(Iterator<Sample> samples, ImageSource source, Backbone backbone, Transform transform,
      int batchSize, Step step) {
    if (!samples.hasNext()) {
      return;
    }
    try (ExecutorModels.Lease lease = ExecutorModels.borrow(backbone); var g = GradMode.disabled()) {
      Module model = lease.model();
      model.eval();
      List<Sample> chunk = new ArrayList<>(batchSize);
      while (samples.hasNext()) {
        chunk.add(samples.next());
        if (chunk.size() == batchSize || !samples.hasNext()) {
          List<Sample> batch = List.copyOf(chunk);
          chunk.clear();
          try (DataLoader loader = new DataLoader(new Chunk(batch, source), transform,
              DataLoader.Options.batch(batch.size()).withWorkers(0))) {
            DataLoader.Batch b = loader.epoch(0).iterator().next();
            step.accept(model, batch, b.x(), b.y().toLongArray());
          }
        }
      }
    }
  }

  /** One batch's samples as a Graft dataset, decoded on demand by their source. */
  private record Chunk(List<Sample> samples, ImageSource source) implements Dataset {
    @Override
    public int size() {
      return samples.size();
    }

    @Override
    public Example get(int index) {
      return source.decode(samples.get(index));
    }

    @Override
    public List<String> classes() {
      return source.classes();
    }
  }
}
