package io.graft.optim;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import java.util.Collection;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Gradient clipping as torch.nn.utils: by global norm and by value, over trainable parameters with gradients. */
public final class GradClip {
  private GradClip() {}

  /**
   * Scales all gradients by {@code min(1, maxNorm / (total + 1e-6))} where {@code total} is the L2 norm of all
   * gradients together (frozen parameters and those without a gradient do not count); returns {@code total}.
   *
   * @see <a href="https://pytorch.org/docs/stable/generated/torch.nn.utils.clip_grad_norm_.html">clip_grad_norm_</a>
   */
  public static double clipGradNorm(Collection<? extends Parameter> params, double maxNorm) {
    return clipGradNorm(params, maxNorm, 2.0);
  }

  /** As {@link #clipGradNorm(Collection, double)} with a p-norm ({@code Double.POSITIVE_INFINITY} for max-abs). */
  public static double clipGradNorm(Collection<? extends Parameter> params, double maxNorm, double normType) {
    if (!(maxNorm >= 0) || !(normType > 0)) {
      throw new GraftException("clipGradNorm: maxNorm must be >= 0 and normType > 0, got " + maxNorm + ", " + normType);
    }
    double total = 0;
    boolean any = false;
    for (Parameter p : params) {
      INDArray g = p.requiresGrad() ? p.gradData() : null;
      if (g == null) {
        continue;
      }
      any = true;
      if (Double.isInfinite(normType)) {
        total = Math.max(total, g.amaxNumber().doubleValue());
      } else if (normType == 2.0) {
        double n = g.norm2Number().doubleValue();
        total += n * n;
      } else {
        total += org.nd4j.linalg.ops.transforms.Transforms.pow(org.nd4j.linalg.ops.transforms.Transforms.abs(g,
            true), normType, false).sumNumber().doubleValue();
      }
    }
    if (!any) {
      return 0;
    }
    if (!Double.isInfinite(normType)) {
      total = normType == 2.0 ? Math.sqrt(total) : Math.pow(total, 1 / normType);
    }
    double coef = Math.min(1.0, maxNorm / (total + 1e-6));
    if (coef < 1.0) {
      for (Parameter p : params) {
        INDArray g = p.requiresGrad() ? p.gradData() : null;
        if (g != null) {
          g.muli(coef);
        }
      }
    }
    return total;
  }

  /** Clamps every gradient element to {@code [-clipValue, clipValue]}. */
  public static void clipGradValue(Collection<? extends Parameter> params, double clipValue) {
    if (!(clipValue >= 0)) {
      throw new GraftException("clipGradValue: clipValue must be >= 0, got " + clipValue);
    }
    for (Parameter p : params) {
      INDArray g = p.requiresGrad() ? p.gradData() : null;
      if (g != null) {
        org.nd4j.linalg.ops.transforms.Transforms.min(g, clipValue, false);
        org.nd4j.linalg.ops.transforms.Transforms.max(g, -clipValue, false);
      }
    }
  }
}
