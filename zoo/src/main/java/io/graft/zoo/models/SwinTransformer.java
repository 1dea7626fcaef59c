package io.graft.zoo.models;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.ShapeException;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.ops.AttentionOps;
import io.graft.core.ops.LinalgOps;
import io.graft.core.ops.ShapeOps;
import io.graft.core.random.Rng;
import io.graft.layers.Dropout;
import io.graft.layers.Flatten;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.Permute;
import io.graft.layers.Sequential;
import io.graft.layers.StochasticDepth;
import io.graft.layers.activation.GELU;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.LayerNorm;
import io.graft.layers.pool.AdaptiveAvgPool2d;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * torchvision's Swin Transformer (Swin-T: embed 96, depths 2-2-6-2, heads 3-6-12-24, window 7×7, stochastic depth
 * 0.2): {@code features.0} the 4×4 stride-4 patch embedding (Conv2d, Permute to channels-last, LayerNorm), then stages
 * of SwinTransformerBlocks ({@code features.1, 3, 5, 7}) with PatchMerging between them ({@code features.2, 4, 6}), a
 * final {@code norm}, global average pooling and {@code head}. Each block is pre-norm window attention ({@code attn}:
 * {@code qkv}, {@code proj}, the learned {@code relative_position_bias_table} [(2·7-1)², heads] indexed by the buffer
 * {@code relative_position_index} [49·49]) on windows shifted by 3 in every second block (with torchvision's mask
 * across the rolled borders; no shift where the window covers the whole padded map), then an MLP, both with row-mode
 * stochastic depth. Feature maps are padded on the right and bottom to whole windows, as torchvision does, so any
 * input of at least 32×32 works. Keys, shapes, order and initialisation as torchvision 0.14; LayerNorm eps 1e-5.
 *
 * <p>Stages (the finetune module's generic rule): {@code features.0} ... {@code features.7}, {@code norm}; the head is
 * {@code head}.
 *
 * @see <a href="https://pytorch.org/vision/0.14/models/swin_transformer.html">torchvision Swin Transformer</a>
 */
@HoldsNoIntermediates
public final class SwinTransformer extends Module implements Classifier {
  private final Sequential features;
  private final LayerNorm norm;
  private final Permute permute = new Permute(0, 3, 1, 2);
  private final AdaptiveAvgPool2d avgpool = new AdaptiveAvgPool2d(1);
  private final Flatten flatten = new Flatten(1, -1);
  private Module head;

  /** torchvision's {@code swin_t(num_classes=numClasses)}. */
  public static SwinTransformer swinT(int numClasses) {
    return new SwinTransformer(96, new int[] {2, 2, 6, 2}, new int[] {3, 6, 12, 24}, 7, 0.2, numClasses);
  }

  /**
   * torchvision's {@code SwinTransformer(patch_size=[4, 4], embed_dim, depths, num_heads, window_size=[w, w],
   * stochastic_depth_prob, num_classes)}, initialised as torchvision from {@link Init#defaultRng()}; throws {@link
   * GraftException} for mismatched or non-positive sizes.
   */
  public SwinTransformer(int embedDim, int[] depths, int[] numHeads, int window, double stochasticDepthProb,
      int numClasses) {
    if (depths.length == 0 || depths.length != numHeads.length || embedDim < 1 || window < 1 || numClasses < 1
        || !(stochasticDepthProb >= 0 && stochasticDepthProb <= 1)) {
      throw new GraftException("SwinTransformer: invalid configuration embed_dim=" + embedDim + ", depths="
          + java.util.Arrays.toString(depths) + ", num_heads=" + java.util.Arrays.toString(numHeads) + ", window="
          + window + ", stochastic_depth_prob=" + stochasticDepthProb + ", num_classes=" + numClasses);
    }
    Rng rng = Init.defaultRng();
    features = registerModule("features", new Sequential(new Sequential(new Conv2d(3, embedDim, 4,
        Conv2d.Options.defaults().withStride(4).withRng(rng)), new Permute(0, 2, 3, 1), new LayerNorm(embedDim))));
    int total = 0;
    for (int d : depths) {
      total += d;
    }
    int id = 0;
    for (int s = 0; s < depths.length; s++) {
      int dim = embedDim << s;
      if (depths[s] < 1 || numHeads[s] < 1 || dim % numHeads[s] != 0) {
        throw new GraftException("SwinTransformer: stage " + s + " needs blocks and heads dividing " + dim);
      }
      Sequential stage = new Sequential();
      for (int i = 0; i < depths[s]; i++) {
        double p = total == 1 ? 0 : stochasticDepthProb * id / (total - 1.0);
        stage.add(new Block(dim, numHeads[s], window, i % 2 == 0 ? 0 : window / 2, p, rng));
        id++;
      }
      features.add(stage);
      if (s + 1 < depths.length) {
        features.add(new PatchMerging(dim, rng));
      }
    }
    int numFeatures = embedDim << (depths.length - 1);
    norm = registerModule("norm", new LayerNorm(numFeatures));
    registerModule("permute", permute);
    registerModule("avgpool", avgpool);
    registerModule("flatten", flatten);
    head = registerModule("head", ConvNeXt.linear(numFeatures, numClasses, rng));
  }

  @Override
  public String headPath() {
    return "head";
  }

  @Override
  protected void assignChild(String name, Module replacement) {
    if (!name.equals("head")) {
      super.assignChild(name, replacement);
    }
    head = replacement;
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    return head.call(flatten.call(avgpool.call(permute.call(norm.call(features.call(x))))));
  }

  /** {@code x} padded with zeros at the end of dimension {@code dim} by {@code pad} (F.pad's right/bottom padding). */
  static Tensor padEnd(Tensor x, int dim, long pad) {
    if (pad == 0) {
      return x;
    }
    long[] s = x.shape();
    s[dim] = pad;
    return ShapeOps.cat(dim, x, Tensor.zeros(x.dtype(), s));
  }

  /** torch.roll(x, shift, dim) for one dimension. */
  static Tensor roll(Tensor x, long shift, int dim) {
    long n = x.shape()[dim];
    long s = ((shift % n) + n) % n;
    if (s == 0) {
      return x;
    }
    return ShapeOps.cat(dim, x.slice(dim, n - s, n, 1), x.slice(dim, 0, n - s, 1));
  }

  /** torchvision's PatchMerging: 2×2 neighbourhoods concatenated (x0, x1, x2, x3), LayerNorm(4C), Linear to 2C. */
  @HoldsNoIntermediates
  public static final class PatchMerging extends Module {
    private final LayerNorm norm;
    private final Linear reduction;

    PatchMerging(int dim, Rng rng) {
      reduction = registerModule("reduction", new Linear(4L * dim, 2L * dim, false, rng));
      VisionTransformer.truncNormal(reduction.weight(), 0.02, rng);
      norm = registerModule("norm", new LayerNorm(4L * dim));
    }

    @Override
    public Tensor forward(Tensor x) {
      requireRank(x, 4);
      long h = x.shape()[1];
      long w = x.shape()[2];
      x = padEnd(padEnd(x, 1, h % 2), 2, w % 2);
      long ph = x.shape()[1];
      long pw = x.shape()[2];
      Tensor x0 = x.slice(1, 0, ph, 2).slice(2, 0, pw, 2);
      Tensor x1 = x.slice(1, 1, ph, 2).slice(2, 0, pw, 2);
      Tensor x2 = x.slice(1, 0, ph, 2).slice(2, 1, pw, 2);
      Tensor x3 = x.slice(1, 1, ph, 2).slice(2, 1, pw, 2);
      return reduction.call(norm.call(ShapeOps.cat(3, x0, x1, x2, x3)));
    }
  }

  /** torchvision's SwinTransformerBlock: x + sd(attn(norm1(x))), then x + sd(mlp(norm2(x))), channels-last. */
  @HoldsNoIntermediates
  public static final class Block extends Module {
    private final LayerNorm norm1;
    private final ShiftedWindowAttention attn;
    private final StochasticDepth stochasticDepth;
    private final LayerNorm norm2;
    private final Sequential mlp;

    Block(int dim, int heads, int window, int shift, double sdProb, Rng rng) {
      norm1 = registerModule("norm1", new LayerNorm(dim));
      attn = registerModule("attn", new ShiftedWindowAttention(dim, window, shift, heads, rng));
      stochasticDepth = registerModule("stochastic_depth", new StochasticDepth(sdProb, "row", rng.fork()));
      norm2 = registerModule("norm2", new LayerNorm(dim));
      Linear fc1 = new Linear(dim, 4L * dim, true, rng);
      Linear fc2 = new Linear(4L * dim, dim, true, rng);
      for (Linear l : new Linear[] {fc1, fc2}) {
        Init.xavierUniform(l.weight(), 1.0, rng);
        Init.normal(l.bias(), 0, 1e-6, rng);
        // then SwinTransformer's own loop re-initialises every Linear: trunc-normal std 0.02, zero bias
        VisionTransformer.truncNormal(l.weight(), 0.02, rng);
        Init.zeros(l.bias());
      }
      mlp = registerModule("mlp", new Sequential(fc1, new GELU(), new Dropout(0.0), fc2, new Dropout(0.0)));
    }

    @Override
    public Tensor forward(Tensor x) {
      x = x.add(stochasticDepth.call(attn.call(norm1.call(x))));
      return x.add(stochasticDepth.call(mlp.call(norm2.call(x))));
    }
  }

  /**
   * torchvision's ShiftedWindowAttention: keys {@code relative_position_bias_table}, {@code relative_position_index}
   * (a persistent int64 buffer), {@code qkv.*}, {@code proj.*}.
   */
  @HoldsNoIntermediates
  public static final class ShiftedWindowAttention extends Module {
    private final int window;
    private final int shift;
    private final int heads;
    private final Parameter table;
    private final Tensor index;
    private final Linear qkv;
    private final Linear proj;

    ShiftedWindowAttention(int dim, int window, int shift, int heads, Rng rng) {
      this.window = window;
      this.shift = shift;
      this.heads = heads;
      qkv = registerModule("qkv", new Linear(dim, 3L * dim, true, rng));
      proj = registerModule("proj", new Linear(dim, dim, true, rng));
      for (Linear l : new Linear[] {qkv, proj}) {
        VisionTransformer.truncNormal(l.weight(), 0.02, rng);
        Init.zeros(l.bias());
      }
      long side = 2L * window - 1;
      table = registerParameter("relative_position_bias_table", new Parameter(Tensor.zeros(side * side, heads)
          .data()));
      VisionTransformer.truncNormal(table, 0.02, rng);
      int n = window * window;
      long[] idx = new long[n * n];
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
          long dh = i / window - j / window + window - 1;
          long dw = i % window - j % window + window - 1;
          idx[i * n + j] = dh * side + dw;
        }
      }
      index = registerBuffer("relative_position_index", Tensor.fromArray(idx, (long) n * n));
    }

    /** The bias (1, heads, w², w²): the table's rows picked by the index (a one-hot product, so it trains). */
    private Tensor bias() {
      int n = window * window;
      long rows = table.shape()[0];
      long[] idx = index.toLongArray();
      if (idx.length != (long) n * n) {
        throw ShapeException.of("ShiftedWindowAttention", "relative_position_index must have " + n * n
            + " entries", index.shape());
      }
      float[] onehot = new float[Math.toIntExact(idx.length * rows)];
      for (int k = 0; k < idx.length; k++) {
        if (idx[k] < 0 || idx[k] >= rows) {
          throw new GraftException("ShiftedWindowAttention: relative_position_index holds " + idx[k]
              + ", outside the table's " + rows + " rows");
        }
        onehot[Math.toIntExact(k * rows + idx[k])] = 1;
      }
      Tensor pick = Tensor.fromArray(onehot, idx.length, rows).to(table.dtype());
      return LinalgOps.matmul(pick, table).reshape(n, n, heads).permute(2, 0, 1).unsqueeze(0);
    }

    @Override
    public Tensor forward(Tensor input) {
      requireRank(input, 4);
      long b = input.shape()[0];
      long h = input.shape()[1];
      long w = input.shape()[2];
      long c = input.shape()[3];
      Tensor x = padEnd(padEnd(input, 1, (window - h % window) % window), 2, (window - w % window) % window);
      long ph = x.shape()[1];
      long pw = x.shape()[2];
      long sh = window >= ph ? 0 : shift;
      long sw = window >= pw ? 0 : shift;
      if (sh + sw > 0) {
        x = roll(roll(x, -sh, 1), -sw, 2);
      }
      long nh = ph / window;
      long nw = pw / window;
      long windows = nh * nw;
      long n = (long) window * window;
      x = x.reshape(b, nh, window, nw, window, c).permute(0, 1, 3, 2, 4, 5).reshape(b * windows, n, c);
      Tensor qkvOut = qkv.call(x).reshape(b * windows, n, 3, heads, c / heads).permute(2, 0, 3, 1, 4);
      Tensor q = qkvOut.slice(0, 0, 1, 1).squeeze(0);
      Tensor k = qkvOut.slice(0, 1, 2, 1).squeeze(0);
      Tensor v = qkvOut.slice(0, 2, 3, 1).squeeze(0);
      Tensor mask = bias();   // (1, heads, n, n)
      if (sh + sw > 0) {
        Tensor shiftMask = Tensor.fromArray(shiftMask(ph, pw, sh, sw), 1, windows, 1, n, n).to(x.dtype());
        // scores are (B*nW, heads, n, n): view them as (B, nW, heads, n, n) for the per-window mask
        mask = mask.unsqueeze(0).add(shiftMask);   // (1, nW, heads, n, n)
        q = q.reshape(b, windows, heads, n, c / heads);
        k = k.reshape(b, windows, heads, n, c / heads);
        v = v.reshape(b, windows, heads, n, c / heads);
      }
      Tensor o = AttentionOps.scaledDotProductAttention(q, k, v, mask, 0.0, false, null);
      o = o.reshape(b * windows, heads, n, c / heads).transpose(1, 2).reshape(b * windows, n, c);
      o = proj.call(o);
      o = o.reshape(b, nh, nw, window, window, c).permute(0, 1, 3, 2, 4, 5).reshape(b, ph, pw, c);
      if (sh + sw > 0) {
        o = roll(roll(o, sh, 1), sw, 2);
      }
      return o.slice(1, 0, h, 1).slice(2, 0, w, 1);
    }

    /** torchvision's attention mask for shifted windows: 0 within a region, -100 across, (nW, n, n) flattened. */
    private float[] shiftMask(long ph, long pw, long sh, long sw) {
      int[][] region = new int[(int) ph][(int) pw];
      long[] hb = {0, ph - window, ph - sh, ph};
      long[] wb = {0, pw - window, pw - sw, pw};
      int count = 0;
      for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
          for (long y = hb[i]; y < hb[i + 1]; y++) {
            for (long x = wb[j]; x < wb[j + 1]; x++) {
              region[(int) y][(int) x] = count;
            }
          }
          count++;
        }
      }
      int nh = (int) (ph / window);
      int nw = (int) (pw / window);
      int n = window * window;
      float[] m = new float[nh * nw * n * n];
      for (int wi = 0; wi < nh * nw; wi++) {
        int oy = (wi / nw) * window;
        int ox = (wi % nw) * window;
        for (int p = 0; p < n; p++) {
          int rp = region[oy + p / window][ox + p % window];
          for (int q = 0; q < n; q++) {
            int rq = region[oy + q / window][ox + q % window];
            m[(wi * n + p) * n + q] = rp == rq ? 0f : -100f;
          }
        }
      }
      return m;
    }
  }
}
