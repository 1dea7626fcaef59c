package io.graft.spark.features;

import io.graft.core.GraftException;
import io.graft.layers.Module;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The models of one executor JVM, built from a {@link Backbone}'s broadcast bytes and kept between tasks, keyed by
 * the backbone's content hash: the weights are read from the broadcast and parsed once per task thread, not once per
 * task or partition. A Graft model is not shared between threads (forward hooks, intermediate release), so each
 * task borrows an instance for its partition and returns it ({@link Lease#close}); an executor running {@code n}
 * tasks at once holds at most {@code n} instances of a backbone. Idle instances of at most {@link #MAX_BACKBONES}
 * backbones are kept (least recently used dropped first).
 */
public final class ExecutorModels {
  /** Backbones whose idle instances an executor keeps: 2. */
  public static final int MAX_BACKBONES = 2;

  private static final Map<String, ArrayDeque<Module>> IDLE = new LinkedHashMap<>(4, 0.75f, true);
  private static final Path DIR = Path.of(System.getProperty("java.io.tmpdir"), "graft-spark-models");

  private ExecutorModels() {}

  /** A model borrowed for one task; closing it returns the model to the executor's pool. */
  public static final class Lease implements AutoCloseable {
    private final String key;
    private final Module model;

    private Lease(String key, Module model) {
      this.key = key;
      this.model = model;
    }

    /** The model, in eval mode. */
    public Module model() {
      return model;
    }

    @Override
    public void close() {
      synchronized (IDLE) {
        IDLE.computeIfAbsent(key, k -> new ArrayDeque<>()).push(model);
        Iterator<String> it = IDLE.keySet().iterator();
        while (IDLE.size() > MAX_BACKBONES && it.hasNext()) {
          if (!it.next().equals(key)) {
            it.remove();
          }
        }
      }
    }
  }

  /** An idle instance of {@code backbone}, or a new one built from its broadcast bytes. */
  public static Lease borrow(Backbone backbone) {
    synchronized (IDLE) {
      ArrayDeque<Module> idle = IDLE.get(backbone.key());
      if (idle != null && !idle.isEmpty()) {
        return new Lease(backbone.key(), idle.pop());
      }
    }
    Module m = backbone.build(DIR);
    if (!(m instanceof io.graft.zoo.models.Classifier)) {
      throw new GraftException(backbone.describe() + ": not a classifier with a known head");
    }
    return new Lease(backbone.key(), m);
  }
}
