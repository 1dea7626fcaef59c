package io.graft.optim;

import io.graft.core.GraftException;
import io.graft.core.NativeMemory;
import io.graft.core.Parameter;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.floating.Sqrt;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.DivOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.api.ops.impl.updaters.AdamUpdater;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Adam with L2 weight decay (added to the gradient) and AMSGrad, exactly as torch.optim.Adam:
 *
 * <pre>
 * g = g + weight_decay · p
 * m = β1 m + (1 − β1) g;   v = β2 v + (1 − β2) g²;   v̂ = amsgrad ? max(v̂, v) : v
 * p = p − lr / (1 − β1^t) · m / (√v̂ / √(1 − β2^t) + eps)
 * </pre>
 *
 * {@link AdamW} decouples the weight decay instead.
 *
 * @see <a href="https://pytorch.org/docs/stable/generated/torch.optim.Adam.html">torch.optim.Adam</a>
 */
public class Adam extends Optimizer {
  /**
   * The options of a group (and the optimizer's defaults); {@code Options.lr(1e-3)} has PyTorch's betas
   * (0.9, 0.999) and eps 1e-8. State dict keys: {@code lr}, {@code betas} (two numbers), {@code eps},
   * {@code weight_decay}, {@code amsgrad}.
   */
  public record Options(double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad)
      implements OptimizerOptions {
    /**
     * Learning rate {@code lr} with PyTorch's other defaults: betas (0.9, 0.999), eps 1e-8, no weight decay, no
     * AMSGrad.
     */
    public static Options lr(double lr) {
      return new Options(lr, 0.9, 0.999, 1e-8, 0, false);
    }

    @Override
    public Options withLr(double l) {
      return new Options(l, beta1, beta2, eps, weightDecay, amsgrad);
    }

    /**
     * These options with PyTorch's {@code betas=(b1, b2)}, the decay rates of the first and second moment estimates,
     * each in [0, 1).
     */
    public Options withBetas(double b1, double b2) {
      return new Options(lr, b1, b2, eps, weightDecay, amsgrad);
    }

    /**
     * These options with PyTorch's {@code eps}, the term added to the denominator for numerical stability (at least 0).
     */
    public Options withEps(double e) {
      return new Options(lr, beta1, beta2, e, weightDecay, amsgrad);
    }

    @Override
    public Options withWeightDecay(double wd) {
      return new Options(lr, beta1, beta2, eps, wd, amsgrad);
    }

    /** These options with PyTorch's {@code amsgrad}: whether to use the running maximum of the second moment. */
    public Options withAmsgrad(boolean a) {
      return new Options(lr, beta1, beta2, eps, weightDecay, a);
    }

    @Override
    public Map<String, Object> toStateDict() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("lr", lr);
      m.put("betas", new double[] {beta1, beta2});
      m.put("eps", eps);
      m.put("weight_decay", weightDecay);
      m.put("amsgrad", amsgrad);
      return m;
    }

    @Override
    public Options withStateDict(Map<String, Object> saved) {
      double[] betas = OptionValues.numbers(saved, "betas", 2, new double[] {beta1, beta2});
      return new Options(OptionValues.number(saved, "lr", lr), betas[0], betas[1],
          OptionValues.number(saved, "eps", eps), OptionValues.number(saved, "weight_decay", weightDecay),
          OptionValues.flag(saved, "amsgrad", amsgrad));
    }
  }

  private final boolean decoupled;

  /**
   * Adam over {@code groups}, each group's unset options taken from {@code defaults}; throws {@link GraftException} for
   * no groups, a parameter in two groups, or an invalid lr, beta, eps or weight decay.
   */
  public Adam(Options defaults, ParamGroup... groups) {
    this(defaults, false, groups);
  }

  /**
   * Adam over one group of named parameters (e.g. {@code model.namedParameters()}); throws as {@link #Adam(Options,
   * ParamGroup...)}.
   */
  public Adam(Options defaults, Map<String, ? extends Parameter> params) {
    this(defaults, false, ParamGroup.of(params));
  }

  Adam(Options defaults, boolean decoupled, ParamGroup... groups) {
    super(defaults, groups);
    this.decoupled = decoupled;
  }

  @Override
  protected void validate(OptimizerOptions options) {
    Options o = (Options) options;
    String me = getClass().getSimpleName();
    if (!(o.lr() >= 0)) {
      throw new GraftException(me + ": invalid learning rate " + o.lr());
    }
    if (!(o.beta1() >= 0 && o.beta1() < 1) || !(o.beta2() >= 0 && o.beta2() < 1)) {
      throw new GraftException(me + ": betas must be two values in [0, 1), got [" + o.beta1() + ", " + o.beta2()
          + "]");
    }
    if (!(o.eps() >= 0)) {
      throw new GraftException(me + ": invalid eps " + o.eps());
    }
    if (!(o.weightDecay() >= 0)) {
      throw new GraftException(me + ": invalid weight_decay " + o.weightDecay());
    }
  }

  @Override
  protected void update(ParamGroup g, Parameter p, INDArray grad, Map<String, INDArray> s) {
    Options o = (Options) g.options();
    double lr = o.lr();
    double beta1 = o.beta1();
    double beta2 = o.beta2();
    double wd = o.weightDecay();
    boolean amsgrad = o.amsgrad();
    INDArray w = p.data();
    if (s.isEmpty()) {
      s.put("step", Nd4j.scalar(DataType.INT64, 0));
      s.put("exp_avg", Nd4j.zeros(w.dataType(), w.shape()));
      s.put("exp_avg_sq", Nd4j.zeros(w.dataType(), w.shape()));
      if (amsgrad) {
        s.put("max_exp_avg_sq", Nd4j.zeros(w.dataType(), w.shape()));
      }
    }
    INDArray stepT = s.get("step");
    long step = stepT.getLong(0) + 1;
    stepT.putScalar(0, step);
    INDArray d = grad;
    if (wd != 0) {
      if (decoupled) {
        w.muli(1 - lr * wd);
      } else {
        d = SGD.axpy(wd, w, grad, null);
      }
    }
    INDArray m = s.get("exp_avg");
    INDArray v = s.get("exp_avg_sq");
    double eps = o.eps();
    double bc1 = 1 - Math.pow(beta1, step);
    double bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
    INDArray upd = NativeMemory.uninitialized(w.dataType(), w.shape());
    if (!amsgrad && step <= Integer.MAX_VALUE) {
      // libnd4j's adam_updater, one pass: m and v in place, upd = lr √(1−β2^t)/(1−β1^t) · m / (√v + eps'); with
      // eps' = eps √(1−β2^t) this is PyTorch's lr/(1−β1^t) · m / (√v/√(1−β2^t) + eps).
      Nd4j.exec(new AdamUpdater(d, v, m, upd, v, m, lr, beta1, beta2, eps * bc2Sqrt, (int) (step - 1)));
    } else {
      m.muli(beta1);
      SGD.axpy(1 - beta1, d, m, m);
      Nd4j.exec(new MulOp(d, d, upd));                          // g², in upd as scratch
      v.muli(beta2);
      SGD.axpy(1 - beta2, upd, v, v);
      INDArray vHat = v;
      if (amsgrad) {
        vHat = s.computeIfAbsent("max_exp_avg_sq", k -> Nd4j.zeros(w.dataType(), w.shape()));
        Transforms.max(vHat, v, false);
      }
      Nd4j.exec(new Sqrt(vHat, upd));
      upd.divi(bc2Sqrt).addi(eps);                              // denominator
      Nd4j.exec(new DivOp(m, upd, upd));
      upd.muli(lr / bc1);
    }
    SGD.axpy(-1, upd, w, w);
    NativeMemory.release(upd);
    if (d != grad) {
      NativeMemory.release(d);
    }
  }
}
