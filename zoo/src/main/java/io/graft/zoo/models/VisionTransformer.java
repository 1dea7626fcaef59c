package io.graft.zoo.models;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.ShapeException;
import io.graft.core.Tensor;
import io.graft.core.init.Init;
import io.graft.core.ops.ShapeOps;
import io.graft.core.random.Rng;
import io.graft.layers.Dropout;
import io.graft.layers.HoldsNoIntermediates;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.MultiheadAttention;
import io.graft.layers.Sequential;
import io.graft.layers.activation.GELU;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.LayerNorm;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * torchvision's VisionTransformer (ViT-B/16, ViT-B/32): a patch embedding {@code conv_proj} (a {@code p×p} stride-p
 * convolution to the hidden size), the learnable {@code class_token} {@code [1, 1, hidden]} prepended to the patch
 * sequence, {@code encoder} (the positional embedding {@code encoder.pos_embedding} {@code [1, seq, hidden]} added,
 * then {@code encoder.layers.encoder_layer_0..11} pre-norm blocks of LayerNorm → self-attention ({@link
 * MultiheadAttention}) → residual, LayerNorm → MLP (Linear, GELU, Dropout, Linear, Dropout) → residual, and the final
 * LayerNorm {@code encoder.ln}; LayerNorm eps 1e-6), and the head {@code heads.head} on the class token's output.
 * State-dict keys, shapes, order and initialisation as torchvision 0.14.
 *
 * <p>The image size is fixed at construction ({@code imageSize}, 224 for ImageNet weights; torchvision's {@code
 * image_size} argument): the positional embedding has {@code (imageSize / patch)² + 1} rows and the input must be
 * {@code (N, 3, imageSize, imageSize)}.
 *
 * <p>Stages (for last-K fine-tuning, gradual unfreezing and layer-wise learning-rate decay), in forward order: {@code
 * conv_proj+class_token+encoder.pos_embedding} (the embedding: the patch projection with the two bare parameters that
 * enter the sequence with it), {@code encoder.layers.encoder_layer_0} ... {@code encoder_layer_11}, {@code encoder.ln};
 * the head {@code heads.head} is not a stage. A stage name joins its parameter patterns with {@code +}.
 *
 * @see <a href="https://pytorch.org/vision/0.14/models/vision_transformer.html">torchvision VisionTransformer</a>
 */
@HoldsNoIntermediates
public final class VisionTransformer extends Module implements Classifier {
  private final int imageSize;
  private final int patchSize;
  private final long hidden;
  private final int numLayers;
  private final Parameter classToken;
  private final Conv2d convProj;
  private final Encoder encoder;
  private final NamedSequential heads;

  /** torchvision's {@code vit_b_16(num_classes=numClasses)}: 224², patch 16, 12 layers, 12 heads, 768 hidden. */
  public static VisionTransformer vitB16(int numClasses) {
    return vitB16(numClasses, 224);
  }

  /** {@code vit_b_16(num_classes=numClasses, image_size=imageSize)}. */
  public static VisionTransformer vitB16(int numClasses, int imageSize) {
    return new VisionTransformer(imageSize, 16, 12, 12, 768, 3072, 0.0, 0.0, numClasses);
  }

  /** torchvision's {@code vit_b_32(num_classes=numClasses)}: 224², patch 32, 12 layers, 12 heads, 768 hidden. */
  public static VisionTransformer vitB32(int numClasses) {
    return vitB32(numClasses, 224);
  }

  /** {@code vit_b_32(num_classes=numClasses, image_size=imageSize)}. */
  public static VisionTransformer vitB32(int numClasses, int imageSize) {
    return new VisionTransformer(imageSize, 32, 12, 12, 768, 3072, 0.0, 0.0, numClasses);
  }

  /**
   * torchvision's {@code VisionTransformer(image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
   * attention_dropout, num_classes)}, initialised as torchvision from {@link Init#defaultRng()}. Throws {@link
   * GraftException} for non-positive sizes, an image size not divisible by the patch size, a hidden size not divisible
   * by the number of heads, or a dropout outside [0, 1].
   */
  public VisionTransformer(int imageSize, int patchSize, int numLayers, int numHeads, int hiddenDim, int mlpDim,
      double dropout, double attentionDropout, int numClasses) {
    if (imageSize < 1 || patchSize < 1 || numLayers < 1 || numHeads < 1 || hiddenDim < 1 || mlpDim < 1
        || numClasses < 1) {
      throw new GraftException("VisionTransformer: sizes must be positive, got image_size=" + imageSize
          + ", patch_size=" + patchSize + ", num_layers=" + numLayers + ", num_heads=" + numHeads + ", hidden_dim="
          + hiddenDim + ", mlp_dim=" + mlpDim + ", num_classes=" + numClasses);
    }
    if (imageSize % patchSize != 0) {
      throw new GraftException("VisionTransformer: image_size " + imageSize + " is not divisible by patch_size "
          + patchSize);
    }
    Rng rng = Init.defaultRng();
    this.imageSize = imageSize;
    this.patchSize = patchSize;
    this.hidden = hiddenDim;
    this.numLayers = numLayers;
    convProj = new Conv2d(3, hiddenDim, patchSize, Conv2d.Options.defaults().withStride(patchSize).withRng(rng));
    truncNormal(convProj.weight(), Math.sqrt(1.0 / (3L * patchSize * patchSize)), rng);
    Init.zeros(convProj.bias());
    classToken = registerParameter("class_token", new Parameter(Tensor.zeros(1, 1, hiddenDim).data()));
    registerModule("conv_proj", convProj);
    long seq = (long) (imageSize / patchSize) * (imageSize / patchSize) + 1;
    encoder = registerModule("encoder", new Encoder(seq, numLayers, numHeads, hiddenDim, mlpDim, dropout,
        attentionDropout, rng));
    Linear head = new Linear(hiddenDim, numClasses, true, rng);
    Init.zeros(head.weight());
    Init.zeros(head.bias());
    heads = registerModule("heads", new NamedSequential().add("head", head));
  }

  /** torch.nn.init.trunc_normal_(t, 0, std, -2, 2): N(0, std²) redrawn outside [-2, 2]. */
  static void truncNormal(Tensor t, double std, Rng rng) {
    double[] v = new double[Math.toIntExact(t.numel())];
    for (int i = 0; i < v.length; i++) {
      double s;
      do {
        s = std * rng.nextGaussian();
      } while (s < -2 || s > 2);
      v[i] = s;
    }
    t.data().assign(org.nd4j.linalg.factory.Nd4j.create(v, t.shape(), t.dtype()));
  }

  /** The image size the model takes (height = width). */
  public int imageSize() {
    return imageSize;
  }

  /** The patch size. */
  public int patchSize() {
    return patchSize;
  }

  /** The class token, {@code [1, 1, hidden]}. */
  public Parameter classToken() {
    return classToken;
  }

  @Override
  public String headPath() {
    return "heads.head";
  }

  @Override
  public Optional<List<String>> stages() {
    List<String> s = new ArrayList<>();
    s.add("conv_proj+class_token+encoder.pos_embedding");
    for (int i = 0; i < numLayers; i++) {
      s.add("encoder.layers.encoder_layer_" + i);
    }
    s.add("encoder.ln");
    return Optional.of(s);
  }

  @Override
  protected void assignChild(String name, Module replacement) {
    if (!name.equals("heads")) {
      super.assignChild(name, replacement);
    }
    throw new GraftException("VisionTransformer: replace the head at 'heads.head', not 'heads'");
  }

  @Override
  public Tensor forward(Tensor x) {
    requireRank(x, 4);
    long[] s = x.shape();
    if (s[1] != 3 || s[2] != imageSize || s[3] != imageSize) {
      throw ShapeException.of("VisionTransformer", "expected input (N, 3, " + imageSize + ", " + imageSize
          + ") (the image size is fixed at construction)", s);
    }
    long n = s[0];
    long patches = (long) (imageSize / patchSize) * (imageSize / patchSize);
    Tensor t = convProj.call(x).reshape(n, hidden, patches).permute(0, 2, 1);  // (N, patches, hidden)
    t = ShapeOps.cat(1, ShapeOps.expand(classToken, n, 1, hidden), t);
    t = encoder.call(t);
    return heads.call(t.slice(1, 0, 1, 1).squeeze(1));
  }

  /** {@code encoder}: positional embedding, dropout, the blocks ({@code layers}) and the final LayerNorm. */
  @HoldsNoIntermediates
  public static final class Encoder extends Module {
    private final Parameter posEmbedding;
    private final Dropout dropout;
    private final NamedSequential layers;
    private final LayerNorm ln;

    Encoder(long seq, int numLayers, int numHeads, int hidden, int mlpDim, double dropoutP, double attentionDropout,
        Rng rng) {
      posEmbedding = registerParameter("pos_embedding", new Parameter(Tensor.zeros(1, seq, hidden).data()));
      Init.normal(posEmbedding, 0, 0.02, rng);
      dropout = registerModule("dropout", new Dropout(dropoutP, rng.fork()));
      layers = registerModule("layers", new NamedSequential());
      for (int i = 0; i < numLayers; i++) {
        layers.add("encoder_layer_" + i, new EncoderBlock(numHeads, hidden, mlpDim, dropoutP, attentionDropout, rng));
      }
      ln = registerModule("ln", new LayerNorm(new long[] {hidden}, 1e-6, true));
    }

    @Override
    public Tensor forward(Tensor x) {
      if (x.rank() != 3 || x.shape()[1] != posEmbedding.shape()[1] || x.shape()[2] != posEmbedding.shape()[2]) {
        throw ShapeException.of("VisionTransformer.Encoder", "expected (batch, seq_length, hidden_dim) = (N, "
            + posEmbedding.shape()[1] + ", " + posEmbedding.shape()[2] + ")", x.shape());
      }
      return ln.call(layers.call(dropout.call(x.add(posEmbedding))));
    }
  }

  /**
   * One pre-norm transformer block: {@code ln_1}, {@code self_attention}, {@code dropout}, residual; {@code ln_2},
   * {@code mlp} (keys {@code mlp.0.*}, {@code mlp.3.*}), residual. Every child can be replaced by path.
   */
  @HoldsNoIntermediates
  public static final class EncoderBlock extends Module {
    EncoderBlock(int numHeads, int hidden, int mlpDim, double dropout, double attentionDropout, Rng rng) {
      registerModule("ln_1", new LayerNorm(new long[] {hidden}, 1e-6, true));
      registerModule("self_attention", new MultiheadAttention(hidden, numHeads, attentionDropout, true, true, rng));
      registerModule("dropout", new Dropout(dropout, rng.fork()));
      registerModule("ln_2", new LayerNorm(new long[] {hidden}, 1e-6, true));
      Linear fc1 = new Linear(hidden, mlpDim, true, rng);
      Linear fc2 = new Linear(mlpDim, hidden, true, rng);
      for (Linear l : new Linear[] {fc1, fc2}) {
        Init.xavierUniform(l.weight(), 1.0, rng);
        Init.normal(l.bias(), 0, 1e-6, rng);
      }
      registerModule("mlp", new Sequential(fc1, new GELU(), new Dropout(dropout, rng.fork()), fc2,
          new Dropout(dropout, rng.fork())));
    }

    @Override
    protected void assignChild(String name, Module replacement) {}

    private Module child(String name) {
      return namedChildren().get(name);
    }

    @Override
    public Tensor forward(Tensor input) {
      if (input.rank() != 3) {
        throw ShapeException.of("EncoderBlock", "expected (batch_size, seq_length, hidden_dim)", input.shape());
      }
      Tensor x = child("dropout").call(child("self_attention").call(child("ln_1").call(input))).add(input);
      return x.add(child("mlp").call(child("ln_2").call(x)));
    }
  }
}
