package io.graft.optim;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
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
  /** Default options of every group; {@code Options.lr(1e-3)} has PyTorch's betas (0.9, 0.999) and eps 1e-8. */
  public record Options(double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad) {
    public static Options lr(double lr) {
      return new Options(lr, 0.9, 0.999, 1e-8, 0, false);
    }

    public Options withBetas(double b1, double b2) {
      return new Options(lr, b1, b2, eps, weightDecay, amsgrad);
    }

    public Options withEps(double e) {
      return new Options(lr, beta1, beta2, e, weightDecay, amsgrad);
    }

    public Options withWeightDecay(double wd) {
      return new Options(lr, beta1, beta2, eps, wd, amsgrad);
    }

    public Options withAmsgrad(boolean a) {
      return new Options(lr, beta1, beta2, eps, weightDecay, a);
    }

    Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("lr", lr);
      m.put("betas", new double[] {beta1, beta2});
      m.put("eps", eps);
      m.put("weight_decay", weightDecay);
      m.put("amsgrad", amsgrad);
      return m;
    }
  }

  private final boolean decoupled;

  public Adam(Options defaults, ParamGroup... groups) {
    this(defaults, false, groups);
  }

  public Adam(Options defaults, Map<String, ? extends Parameter> params) {
    this(defaults, false, ParamGroup.of(params));
  }

  Adam(Options defaults, boolean decoupled, ParamGroup... groups) {
    super(defaults.toMap(), groups);
    this.decoupled = decoupled;
  }

  @Override
  protected void validate(ParamGroup g) {
    String me = getClass().getSimpleName();
    double[] betas = g.getDoubles("betas");
    if (!(g.lr() >= 0)) {
      throw new GraftException(me + ": invalid learning rate " + g.lr());
    }
    if (betas.length != 2 || !(betas[0] >= 0 && betas[0] < 1) || !(betas[1] >= 0 && betas[1] < 1)) {
      throw new GraftException(me + ": betas must be two values in [0, 1), got " + java.util.Arrays.toString(betas));
    }
    if (!(g.getDouble("eps") >= 0)) {
      throw new GraftException(me + ": invalid eps " + g.getDouble("eps"));
    }
    if (!(g.getDouble("weight_decay") >= 0)) {
      throw new GraftException(me + ": invalid weight_decay " + g.getDouble("weight_decay"));
    }
  }

  @Override
  protected void update(ParamGroup g, Parameter p, INDArray grad, Map<String, INDArray> s) {
    double lr = g.lr();
    double[] betas = g.getDoubles("betas");
    double wd = g.getDouble("weight_decay");
    boolean amsgrad = g.getBoolean("amsgrad");
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
    if (wd != 0) {
      if (decoupled) {
        w.muli(1 - lr * wd);
      } else {
        grad = grad.add(w.mul(wd));
      }
    }
    INDArray m = s.get("exp_avg");
    INDArray v = s.get("exp_avg_sq");
    m.muli(betas[0]).addi(grad.mul(1 - betas[0]));
    v.muli(betas[1]).addi(grad.mul(1 - betas[1]).muli(grad));
    double bc1 = 1 - Math.pow(betas[0], step);
    double bc2Sqrt = Math.sqrt(1 - Math.pow(betas[1], step));
    INDArray vHat = v;
    if (amsgrad) {
      INDArray max = s.computeIfAbsent("max_exp_avg_sq", k -> Nd4j.zeros(w.dataType(), w.shape()));
      Transforms.max(max, v, false);
      vHat = max;
    }
    INDArray denom = Transforms.sqrt(vHat, true).divi(bc2Sqrt).addi(g.getDouble("eps"));
    w.addi(m.mul(-lr / bc1).divi(denom));
  }
}
