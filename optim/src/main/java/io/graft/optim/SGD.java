package io.graft.optim;

import io.graft.core.GraftException;
import io.graft.core.NativeMemory;
import io.graft.core.Parameter;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.Axpy;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Stochastic gradient descent with momentum, dampening, Nesterov momentum and (L2) weight decay, exactly as
 * torch.optim.SGD:
 *
 * <pre>
 * d = g + weight_decay · p
 * buf = d (first step) | momentum · buf + (1 − dampening) · d
 * d = nesterov ? d + momentum · buf : buf
 * p = p − lr · d
 * </pre>
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.optim.SGD.html">torch.optim.SGD</a>
 */
public final class SGD extends Optimizer {
  /**
   * The options of a group (and the optimizer's defaults); {@code Options.lr(0.01).withMomentum(0.9)}. State dict
   * keys: {@code lr}, {@code momentum}, {@code dampening}, {@code nesterov}, {@code weight_decay}.
   */
  public record Options(double lr, double momentum, double dampening, boolean nesterov, double weightDecay)
      implements OptimizerOptions {
    /**
     * Learning rate {@code lr} with PyTorch's other defaults: no momentum, no dampening, no Nesterov, no weight decay.
     */
    public static Options lr(double lr) {
      return new Options(lr, 0, 0, false, 0);
    }

    @Override
    public Options withLr(double l) {
      return new Options(l, momentum, dampening, nesterov, weightDecay);
    }

    /** These options with PyTorch's {@code momentum} factor (at least 0; 0 for plain SGD). */
    public Options withMomentum(double m) {
      return new Options(lr, m, dampening, nesterov, weightDecay);
    }

    /** These options with PyTorch's {@code dampening} of the momentum buffer's update (must be 0 for Nesterov). */
    public Options withDampening(double d) {
      return new Options(lr, momentum, d, nesterov, weightDecay);
    }

    /** These options with PyTorch's {@code nesterov}: Nesterov momentum, which needs a momentum and zero dampening. */
    public Options withNesterov(boolean n) {
      return new Options(lr, momentum, dampening, n, weightDecay);
    }

    @Override
    public Options withWeightDecay(double wd) {
      return new Options(lr, momentum, dampening, nesterov, wd);
    }

    @Override
    public Map<String, Object> toStateDict() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("lr", lr);
      m.put("momentum", momentum);
      m.put("dampening", dampening);
      m.put("nesterov", nesterov);
      m.put("weight_decay", weightDecay);
      return m;
    }

    @Override
    public Options withStateDict(Map<String, Object> saved) {
      return new Options(OptionValues.number(saved, "lr", lr), OptionValues.number(saved, "momentum", momentum),
          OptionValues.number(saved, "dampening", dampening), OptionValues.flag(saved, "nesterov", nesterov),
          OptionValues.number(saved, "weight_decay", weightDecay));
    }
  }

  /**
   * SGD over {@code groups}, each group's unset options taken from {@code defaults}; throws {@link GraftException} for
   * no groups, a parameter in two groups, a negative lr, momentum or weight decay, or Nesterov without momentum or with
   * dampening.
   */
  public SGD(Options defaults, ParamGroup... groups) {
    super(defaults, groups);
  }

  /** One group of named parameters, e.g. {@code new SGD(Options.lr(0.1), model.namedParameters())}. */
  public SGD(Options defaults, Map<String, ? extends Parameter> params) {
    this(defaults, ParamGroup.of(params));
  }

  @Override
  protected void validate(OptimizerOptions options) {
    Options o = (Options) options;
    if (!(o.lr() >= 0)) {
      throw new GraftException("SGD: invalid learning rate " + o.lr());
    }
    if (!(o.momentum() >= 0)) {
      throw new GraftException("SGD: invalid momentum " + o.momentum());
    }
    if (!(o.weightDecay() >= 0)) {
      throw new GraftException("SGD: invalid weight_decay " + o.weightDecay());
    }
    if (o.nesterov() && (o.momentum() <= 0 || o.dampening() != 0)) {
      throw new GraftException("SGD: Nesterov momentum requires a momentum and zero dampening");
    }
  }

  @Override
  protected void update(ParamGroup g, Parameter p, INDArray grad, Map<String, INDArray> s) {
    Options o = (Options) g.options();
    double wd = o.weightDecay();
    double momentum = o.momentum();
    INDArray w = p.data();
    INDArray d = wd != 0 ? axpy(wd, w, grad, null) : grad;
    if (momentum != 0) {
      INDArray buf = s.get("momentum_buffer");
      if (buf == null) {
        buf = d.dup();
        s.put("momentum_buffer", buf);
      } else {
        double dampening = o.dampening();
        if (dampening == 0) {
          axpy(momentum, buf, d, buf);
        } else {
          axpy(1 - dampening, d, buf.muli(momentum), buf);
        }
      }
      d = o.nesterov() ? axpy(momentum, buf, d, null) : buf;
    }
    axpy(-o.lr(), d, w, w);
  }

  /**
   * {@code z = alpha * x + y} in one pass of libnd4j's {@code Axpy} transform ({@code z} may be {@code x} or
   * {@code y}; null: a new array). The in-place momentum and parameter updates are two such passes, against five
   * for scale, add and BLAS {@code axpy}.
   */
  static INDArray axpy(double alpha, INDArray x, INDArray y, INDArray z) {
    if (x.dataType() != y.dataType() || !java.util.Arrays.equals(x.shape(), y.shape())) {
      INDArray r = y.add(x.mul(alpha));
      return z == null ? r : z.assign(r);
    }
    INDArray out = z != null ? z : NativeMemory.uninitialized(y.dataType(), y.shape());
    Nd4j.exec(new Axpy(x, y, out, alpha));
    return out;
  }
}
