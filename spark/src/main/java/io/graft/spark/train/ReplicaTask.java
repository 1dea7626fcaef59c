package io.graft.spark.train;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.finetune.data.DataLoader;
import io.graft.finetune.train.Evaluation;
import io.graft.finetune.train.Replica;
import io.graft.optim.GradClip;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.broadcast.Broadcast;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;

/**
 * One replica's part of a barrier stage: steps {@code [from, to)} of epoch {@code epoch}, starting from the state the
 * driver broadcast for its rank. Per step (DDP): load the shard ({@link Shards}), forward, loss, backward, exchange
 * the trainable parameters' gradients, average them (sum in rank order / world size: each replica's gradient is that
 * of its shard's mean loss, as in DDP), then the same non-finite check, clipping and optimizer step on every
 * replica. Under local SGD the replicas step on their own gradients and average their trainable weights every
 * {@code localSgdEvery} steps of the epoch. Frozen parameters are never exchanged. Failures never escape as
 * exceptions while the others wait: they travel as a status in the next exchange and come back to the driver.
 */
final class ReplicaTask extends AbstractFunction1<Iterator<Integer>, Iterator<ChunkResult>> implements Serializable {
  private static final long serialVersionUID = 1L;
  /** Replicas built in this executor JVM, by run id and rank (one run at a time; a new run id drops the others). */
  private static final Map<String, Replica> BUILT = new ConcurrentHashMap<>();

  /** What the driver tells every replica for one run of steps. */
  record Job(String runId, String nonce, int epoch, int from, int to, int world, Set<String> trainable,
      double clipGradNorm, int localSgdEvery, Exchange.Kind exchange) implements Serializable {}

  private final Replica.Factory factory;
  private final Broadcast<byte[][]> states;
  private final Job job;

  ReplicaTask(Replica.Factory factory, Broadcast<byte[][]> states, Job job) {
    this.factory = factory;
    this.states = states;
    this.job = job;
  }

  @Override
  public Iterator<ChunkResult> apply(Iterator<Integer> ignored) {
    BarrierTaskContext ctx = BarrierTaskContext.get();
    int rank = ctx.partitionId();
    Exchange ex = job.exchange().open(ctx, job.nonce(), job.world());
    ChunkResult r;
    try {
      r = run(rank, ex);
    } catch (RuntimeException e) {
      // a failure before the first exchange (building the replica, loading its state): tell the others there
      String msg = "replica " + rank + ": " + e;
      r = failedAfter(msg, rank, ex);
    }
    ex.finish();
    return CollectionConverters.asScala(List.of(r).iterator());
  }

  /** The exchanges this run of steps makes, after {@code s}: one per step (DDP), or one per averaging point. */
  private boolean exchangesAt(int s) {
    return job.localSgdEvery() == 0 || (s + 1) % job.localSgdEvery() == 0 || s == job.to() - 1;
  }

  private ChunkResult failedAfter(String msg, int rank, Exchange ex) {
    // take part in the remaining exchanges with the failure, so that no replica waits (they stop at the first one)
    ex.gather(msg, null, 0);
    return new ChunkResult(rank, null, 0, 0, null, 0, 0, 0, 0, msg);
  }

  private ChunkResult run(int rank, Exchange ex) {
    String key = job.runId() + "/" + rank;
    BUILT.keySet().removeIf(k -> !k.startsWith(job.runId() + "/"));
    Replica rep = BUILT.computeIfAbsent(key, k -> factory.build());
    ReplicaState.load(states.value()[rank], rep.model(), rep.optimizer());
    List<String> names = new ArrayList<>();
    List<Parameter> params = new ArrayList<>();
    rep.model().namedParameters().forEach((n, p) -> {
      boolean t = job.trainable().contains(n);
      p.requiresGrad(t);
      if (t) {
        names.add(n);
        params.add(p);
      }
    });
    int length = 0;
    for (Parameter p : params) {
      length = Math.addExact(length, (int) p.numel());
    }
    rep.model().train();
    DataLoader loader = rep.train();
    int[] order = loader.order(job.epoch());
    int globalBatch = loader.options().batchSize();
    boolean localSgd = job.localSgdEvery() > 0;
    Evaluation.Accumulator acc = null;
    long compute = 0;
    long exchange = 0;
    String failure = null;
    for (int s = job.from(); s < job.to(); s++) {
      long t0 = System.nanoTime();
      float[] mine = null;
      if (failure == null) {
        try {
          int[] idx = Shards.of(order, s, globalBatch, rank, job.world());
          if (idx.length > 0) {
            DataLoader.Batch b = loader.batch(idx, job.epoch());
            String bad = nonFinite(b.x(), idx, loader);
            if (bad != null) {
              throw new GraftException(bad);
            }
            rep.optimizer().zeroGrad();
            Tensor logits = rep.model().call(b.x());
            Tensor l = rep.loss().forward(logits, b.y());
            double lv = l.item();
            if (!Double.isFinite(lv)) {
              throw new GraftException("non-finite loss " + lv + " at epoch " + (job.epoch() + 1) + ", step "
                  + (s + 1) + " on replica " + rank + "; its examples: " + sources(idx, loader));
            }
            l.backward();
            if (acc == null) {
              acc = new Evaluation.Accumulator((int) logits.shape()[1]);
            }
            acc.add(logits, b.y(), lv);
            if (localSgd) {
              step(rep, params, names, s);
            }
          } else {
            rep.optimizer().zeroGrad(); // an empty shard (a last batch smaller than the world): zero gradients
          }
          if (!localSgd) {
            mine = flatten(params, length, true);
          }
        } catch (RuntimeException e) {
          failure = "replica " + rank + ": " + (e instanceof GraftException ? e.getMessage() : e.toString());
        }
      }
      long t1 = System.nanoTime();
      compute += t1 - t0;
      if (!exchangesAt(s)) {
        continue;
      }
      boolean averaging = !localSgd || (s + 1) % job.localSgdEvery() == 0;
      if (localSgd && averaging && failure == null) {
        mine = flatten(params, length, false);
      }
      Exchange.Gathered g = ex.gather(failure == null ? Exchange.OK : failure, failure == null ? mine : null,
          averaging ? length : 0);
      exchange += System.nanoTime() - t1;
      String first = g.firstFailure();
      if (first != null) {
        return new ChunkResult(rank, null, 0, 0, null, 0, compute, exchange, s - job.from(), first);
      }
      if (averaging) {
        long t2 = System.nanoTime();
        float[] avg = average(g.vectors(), length);
        unflatten(params, avg, !localSgd);
        if (!localSgd) {
          try {
            step(rep, params, names, s);
          } catch (GraftException e) { // the same on every replica: their gradients are equal
            return new ChunkResult(rank, null, 0, 0, null, 0, compute, exchange, s - job.from(), e.getMessage());
          }
        }
        compute += System.nanoTime() - t2;
      }
    }
    Evaluation e = acc == null ? null : acc.result();
    return new ChunkResult(rank, ReplicaState.encode(rep.model(), rep.optimizer()),
        e == null ? 0 : e.loss() * e.count(), e == null ? 0 : e.count(), e == null ? null : e.confusion(),
        e == null ? 0 : Math.round(e.top5() * e.count() / 100.0), compute, exchange, job.to() - job.from(), null);
  }

  /** The non-finite check, clipping and optimizer step on this replica's (averaged, under DDP) gradients. */
  private void step(Replica rep, List<Parameter> params, List<String> names, int s) {
    for (int i = 0; i < params.size(); i++) {
      INDArray g = params.get(i).gradData();
      if (g != null && !Double.isFinite(g.sumNumber().doubleValue())) {
        throw new GraftException("non-finite gradient for parameter '" + names.get(i) + "' at epoch "
            + (job.epoch() + 1) + ", step " + (s + 1) + "; weights were not updated");
      }
    }
    if (job.clipGradNorm() > 0) {
      GradClip.clipGradNorm(params, job.clipGradNorm());
    }
    rep.optimizer().step();
  }

  /** The gradients (or weights) of {@code params}, concatenated; a missing gradient counts as zeros. */
  private static float[] flatten(List<Parameter> params, int length, boolean grads) {
    float[] out = new float[length];
    int at = 0;
    for (Parameter p : params) {
      INDArray a = grads ? p.gradData() : p.data();
      int n = (int) p.numel();
      if (a != null) {
        float[] v = a.castTo(DataType.FLOAT).dup('c').reshape(n).toFloatVector();
        System.arraycopy(v, 0, out, at, n);
      }
      at += n;
    }
    return out;
  }

  /** Writes {@code v} back as the gradients (or, in place, the weights) of {@code params}. */
  private static void unflatten(List<Parameter> params, float[] v, boolean grads) {
    int at = 0;
    for (Parameter p : params) {
      int n = (int) p.numel();
      float[] part = java.util.Arrays.copyOfRange(v, at, at + n);
      INDArray a = Nd4j.createFromArray(part).reshape('c', p.shape()).castTo(p.data().dataType());
      if (grads) {
        p.setGrad(Tensor.of(a));
      } else {
        p.data().assign(a);
      }
      at += n;
    }
  }

  /** Sum in rank order, divided by the number of replicas (DDP's average, the same on every replica). */
  private static float[] average(float[][] vectors, int length) {
    float[] sum = new float[length];
    for (float[] v : vectors) {
      for (int i = 0; i < length; i++) {
        sum[i] += v[i];
      }
    }
    float w = vectors.length;
    for (int i = 0; i < length; i++) {
      sum[i] /= w;
    }
    return sum;
  }

  private static String nonFinite(Tensor x, int[] idx, DataLoader loader) {
    if (!x.dtype().isFPType()) {
      return null;
    }
    float[] v = x.toFloatArray();
    int per = v.length / idx.length;
    for (int i = 0; i < idx.length; i++) {
      for (int j = i * per; j < (i + 1) * per; j++) {
        if (!Float.isFinite(v[j])) {
          return "non-finite input value " + v[j] + " in " + loader.dataset().source(idx[i]) + " (after its "
              + "transform); the replicas stopped before updating";
        }
      }
    }
    return null;
  }

  private static String sources(int[] idx, DataLoader loader) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < idx.length && i < 8; i++) {
      b.append(i == 0 ? "" : ", ").append(loader.dataset().source(idx[i]));
    }
    return b.append(idx.length > 8 ? ", ... (" + idx.length + " in all)" : "").toString();
  }
}
