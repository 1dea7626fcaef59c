package io.graft.zoo.onnx;

import io.graft.core.GraftException;
import io.graft.core.Shapes;
import io.graft.core.Tensor;
import io.graft.core.autograd.GradMode;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.zoo.models.Classifier;

/**
 * An imported ONNX classifier split for fine-tuning: {@code backbone} is the graph up to the input of its last
 * {@code Gemm} ({@link OnnxModel#cut}), {@code fc} a {@link Linear} holding that Gemm's weights. As a
 * {@link Classifier} it takes part in every recipe of {@code FineTune} (head replacement, freezing strategies,
 * feature caching); its state dict keys are {@code backbone.<initializer name>} and {@code fc.weight/bias}. The
 * backbone accepts any batch size ({@link OnnxModel#freeBatch}).
 */
public final class OnnxClassifier extends Module implements Classifier {
  private final OnnxModel backbone;
  private Module fc;

  private OnnxClassifier(OnnxModel backbone, Linear fc) {
    this.backbone = registerModule("backbone", backbone);
    this.fc = registerModule("fc", fc);
  }

  /** Splits {@code model} at its last Gemm, whose B (and C) become the head's weight (and bias). */
  public static OnnxClassifier of(OnnxModel model) {
    OnnxNode gemm = model.lastGemm();
    if (gemm == null) {
      throw new GraftException(model.source() + ": no Gemm node to use as the classifier head");
    }
    if (gemm.i("transA", 0) != 0 || gemm.f("alpha", 1f) != 1f || gemm.f("beta", 1f) != 1f
        || !model.outputNames().equals(gemm.outputs())) {
      throw new GraftException(model.source() + ": the last Gemm (" + gemm.name() + ") is not a plain final "
          + "Linear layer (transA=0, alpha=beta=1, its output the graph's output); cut the graph yourself");
    }
    Tensor b = model.constant(gemm.inputs().get(1));
    Tensor c = gemm.inputs().size() > 2 && !gemm.inputs().get(2).isEmpty() ? model.constant(gemm.inputs().get(2))
        : null;
    if (b == null || b.rank() != 2) {
      throw new GraftException(model.source() + ": the last Gemm's B is not a 2-D initializer");
    }
    Tensor w = gemm.i("transB", 0) != 0 ? b : b.transpose(0, 1);   // Linear holds (out, in)
    if (c != null && (c.rank() != 1 || c.shape()[0] != w.shape()[0])) {
      throw new GraftException(model.source() + ": the last Gemm's bias has shape " + Shapes.str(c.shape())
          + ", expected [" + w.shape()[0] + "]");
    }
    Linear head = new Linear(w.shape()[1], w.shape()[0], c != null, new io.graft.core.random.Rng(0));
    try (var g = GradMode.disabled()) {
      head.weight().data().assign(w.data());
      if (c != null) {
        head.bias().data().assign(c.data());
      }
    }
    return new OnnxClassifier(model.cut(gemm.inputs().get(0)).freeBatch(), head);
  }

  /** The imported graph up to the head's input, with a free batch dimension (state dict prefix {@code backbone.}). */
  public OnnxModel backbone() {
    return backbone;
  }

  @Override
  public Tensor forward(Tensor x) {
    Tensor f = backbone.call(x);
    return fc.call(f.rank() == 2 ? f : f.flatten(1, -1));
  }

  @Override
  public String headPath() {
    return "fc";
  }

  /** The head {@code fc} can be replaced; the backbone cannot. */
  @Override
  protected void assignChild(String name, Module replacement) {
    if (!name.equals("fc")) {
      super.assignChild(name, replacement);
    }
    fc = replacement;
  }

  @Override
  public String typeName() {
    return "OnnxClassifier";
  }
}
