package io.graft.layers;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.ShapeException;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.ops.AttentionOps;
import io.graft.core.ops.LinalgOps;
import io.graft.core.random.Rng;

/**
 * Multi-head attention (torch.nn.MultiheadAttention with {@code kdim = vdim = embed_dim}): the query, key and value
 * are projected by the packed {@code in_proj_weight} {@code (3E, E)} and {@code in_proj_bias} {@code (3E)}, split into
 * {@code numHeads} heads of {@code E / numHeads}, attended ({@link AttentionOps#scaledDotProductAttention}, dropout on
 * the attention weights in training) and projected back by {@code out_proj}, a {@link Linear} child (so {@code
 * replace("out_proj", ...)} may wrap it, e.g. with an adapter). Keys and order as PyTorch: {@code in_proj_weight},
 * {@code in_proj_bias}, {@code out_proj.weight}, {@code out_proj.bias}. Initialisation as PyTorch: Xavier-uniform
 * {@code in_proj_weight}, zero biases, {@code out_proj.weight} as a Linear's.
 *
 * <p>{@link #forward} is self-attention ({@code query = key = value = x}), which is how torchvision's ViT calls it
 * ({@code need_weights=False}: the attention weights are not returned). Input {@code (N, L, E)} with {@code
 * batchFirst}, else {@code (L, N, E)}; output the same shape.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.MultiheadAttention.html">
 *     torch.nn.MultiheadAttention</a>
 */
@HoldsNoIntermediates
public final class MultiheadAttention extends Module {
  private final long embedDim;
  private final int numHeads;
  private final double dropout;
  private final boolean batchFirst;
  private final Parameter inProjWeight;
  private final Parameter inProjBias;
  private Module outProj;
  private final Rng rng;

  /**
   * {@code nn.MultiheadAttention(embedDim, numHeads, dropout, bias=bias, batch_first=batchFirst)}, initialised from
   * {@link Init#defaultRng()}; throws {@link GraftException} unless {@code embedDim} is positive and divisible by a
   * positive {@code numHeads} and {@code dropout} is in [0, 1].
   */
  public MultiheadAttention(long embedDim, int numHeads, double dropout, boolean bias, boolean batchFirst) {
    this(embedDim, numHeads, dropout, bias, batchFirst, Init.defaultRng());
  }

  /** As {@link #MultiheadAttention(long, int, double, boolean, boolean)}, initialised and drawing dropout from rng. */
  public MultiheadAttention(long embedDim, int numHeads, double dropout, boolean bias, boolean batchFirst, Rng rng) {
    if (embedDim < 1 || numHeads < 1 || embedDim % numHeads != 0) {
      throw new GraftException("MultiheadAttention: embed_dim (" + embedDim + ") must be positive and divisible by "
          + "num_heads (" + numHeads + ")");
    }
    if (!(dropout >= 0 && dropout <= 1)) {
      throw new GraftException("MultiheadAttention: dropout must be in [0, 1], got " + dropout);
    }
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.dropout = dropout;
    this.batchFirst = batchFirst;
    this.rng = rng.fork();
    inProjWeight = registerParameter("in_proj_weight", new Parameter(Tensor.zeros(3 * embedDim, embedDim).data()));
    inProjBias = bias ? registerParameter("in_proj_bias", new Parameter(Tensor.zeros(3 * embedDim).data())) : null;
    Init.xavierUniform(inProjWeight, 1.0, rng);
    Linear out = new Linear(embedDim, embedDim, bias, rng);
    if (bias) {
      Init.zeros(out.bias());
    }
    outProj = registerModule("out_proj", out);
  }

  /** PyTorch's {@code embed_dim}. */
  public long embedDim() {
    return embedDim;
  }

  /** PyTorch's {@code num_heads}. */
  public int numHeads() {
    return numHeads;
  }

  /** PyTorch's {@code batch_first}: inputs are {@code (N, L, E)} when true, {@code (L, N, E)} when false. */
  public boolean batchFirst() {
    return batchFirst;
  }

  /** PyTorch's {@code dropout}: the dropout probability on the attention weights in training. */
  public double dropout() {
    return dropout;
  }

  /** The packed q/k/v projection, {@code (3E, E)}. */
  public Parameter inProjWeight() {
    return inProjWeight;
  }

  /** The packed q/k/v bias {@code (3E)}, or null without bias. */
  public Parameter inProjBias() {
    return inProjBias;
  }

  /** The output projection (a {@link Linear} unless replaced). */
  public Module outProj() {
    return outProj;
  }

  @Override
  protected void assignChild(String name, Module replacement) {
    if (!name.equals("out_proj")) {
      super.assignChild(name, replacement);
    }
    outProj = replacement;
  }

  /** Self-attention: {@code attend(x, x, x, null)}. */
  @Override
  public Tensor forward(Tensor x) {
    return attend(x, x, x, null);
  }

  /**
   * Attention of {@code query} over {@code key}/{@code value} (each {@code (N, L or S, E)} with batchFirst, else
   * {@code (L or S, N, E)}); {@code attnMask} is null or an additive float mask broadcasting to {@code (N, H, L, S)}.
   * Throws a {@link ShapeException} for inputs that are not rank 3 with last dimension E and a shared batch size.
   */
  public Tensor attend(Tensor query, Tensor key, Tensor value, Tensor attnMask) {
    for (Tensor t : new Tensor[] {query, key, value}) {
      if (t.rank() != 3 || t.shape()[2] != embedDim) {
        throw ShapeException.of("MultiheadAttention", "query, key and value must be rank 3 with last dimension "
            + "embed_dim = " + embedDim + (batchFirst ? " (N, L, E)" : " (L, N, E)"), t.shape());
      }
    }
    Tensor q = batchFirst ? query : query.transpose(0, 1);
    Tensor k = batchFirst ? key : key.transpose(0, 1);
    Tensor v = batchFirst ? value : value.transpose(0, 1);
    long n = q.shape()[0];
    if (k.shape()[0] != n || v.shape()[0] != n || k.shape()[1] != v.shape()[1]) {
      throw ShapeException.of("MultiheadAttention", "query, key and value need the same batch size, key and value "
          + "the same length", query.shape(), key.shape(), value.shape());
    }
    long hd = embedDim / numHeads;
    Tensor qh;
    Tensor kh;
    Tensor vh;
    if (query == key && key == value) {
      // one packed projection: (N, L, 3E) -> (N, L, 3, H, hd) -> (3, N, H, L, hd)
      long l = q.shape()[1];
      Tensor qkv = LinalgOps.linear(q, inProjWeight, inProjBias).reshape(n, l, 3, numHeads, hd).permute(2, 0, 3, 1, 4);
      qh = qkv.slice(0, 0, 1, 1).squeeze(0);
      kh = qkv.slice(0, 1, 2, 1).squeeze(0);
      vh = qkv.slice(0, 2, 3, 1).squeeze(0);
    } else {
      qh = heads(project(q, 0), n);
      kh = heads(project(k, 1), n);
      vh = heads(project(v, 2), n);
    }
    Tensor o = AttentionOps.scaledDotProductAttention(qh, kh, vh, attnMask, dropout, isTraining(), rng);
    o = o.permute(0, 2, 1, 3).reshape(n, q.shape()[1], embedDim);  // (N, L, E)
    Tensor y = outProj.call(o);
    return batchFirst ? y : y.transpose(0, 1);
  }

  private Tensor project(Tensor x, int which) {
    Tensor w = inProjWeight.slice(0, which * embedDim, (which + 1) * embedDim, 1);
    Tensor b = inProjBias == null ? null : inProjBias.slice(0, which * embedDim, (which + 1) * embedDim, 1);
    return LinalgOps.linear(x, w, b);
  }

  private Tensor heads(Tensor x, long n) {
    return x.reshape(n, x.shape()[1], numHeads, embedDim / numHeads).permute(0, 2, 1, 3);  // (N, H, L, hd)
  }

  @Override
  protected String extraRepr() {
    return "embed_dim=" + embedDim + ", num_heads=" + numHeads + ", dropout=" + dropout + ", batch_first="
        + batchFirst;
  }
}
