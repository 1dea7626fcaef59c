package io.graft.optim;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.testing.Fixtures;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Parameters after each of 5 steps against torch.optim ({@code tools/fixtures/optim.py}): two groups, the first
 * with its own lr; at step 3 the second group has no gradient and must not move. The tolerance (2e-7 absolute
 * plus two float32 ulps) is below the effect of a missing weight-decay term, which
 * {@link #toleranceCatchesAMissingWeightDecayTerm} demonstrates.
 */
class OptimizerParityTest {
  static final Safetensors.File FIX = Fixtures.load("fixtures/optim/optimizers.safetensors");
  static final double ATOL = 2e-7;
  /** About two float32 ulps, for the parameters that SGD's lr 0.5 group drives to order 1. */
  static final double RTOL = 2e-7;
  static final Map<String, Function<ParamGroup[], Optimizer>> CASES = new LinkedHashMap<>();

  static {
    CASES.put("sgd", g -> new SGD(SGD.Options.lr(0.1), g));
    CASES.put("sgd_momentum", g -> new SGD(SGD.Options.lr(0.1).withMomentum(0.9), g));
    CASES.put("sgd_momentum_dampening", g -> new SGD(SGD.Options.lr(0.1).withMomentum(0.9).withDampening(0.5), g));
    CASES.put("sgd_nesterov", g -> new SGD(SGD.Options.lr(0.1).withMomentum(0.9).withNesterov(true), g));
    CASES.put("sgd_weight_decay", g -> new SGD(SGD.Options.lr(0.1).withMomentum(0.9).withWeightDecay(1e-4), g));
    CASES.put("adam", g -> new Adam(Adam.Options.lr(1e-3), g));
    CASES.put("adam_weight_decay", g -> new Adam(Adam.Options.lr(1e-3).withWeightDecay(1e-4), g));
    CASES.put("adam_amsgrad", g -> new Adam(Adam.Options.lr(1e-3).withBetas(0.8, 0.99).withEps(1e-6)
        .withAmsgrad(true), g));
    CASES.put("adamw", g -> new AdamW(AdamW.defaults(1e-3), g));
    CASES.put("adamw_weight_decay", g -> new AdamW(Adam.Options.lr(1e-3).withWeightDecay(0.1).withAmsgrad(true), g));
  }

  @Test
  void everyFixtureCaseIsCovered() {
    assertEquals(new TreeSet<>(Arrays.asList(FIX.metadata().get("cases").split(","))), new TreeSet<>(CASES.keySet()));
  }

  @TestFactory
  Stream<DynamicTest> optimizers() {
    return CASES.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(), () -> run(e.getKey(),
        e.getValue())));
  }

  static void run(String name, Function<ParamGroup[], Optimizer> make) {
    Parameter a = Parameter.of(FIX.tensor("init/a"));
    Parameter b = Parameter.of(FIX.tensor("init/b"));
    double lrA = name.startsWith("sgd") ? 0.5 : 5e-3;
    Optimizer opt = make.apply(new ParamGroup[] {ParamGroup.of(Map.of("a", a)).lr(lrA), ParamGroup.of(Map.of("b", b))});
    for (int step = 0; step < 5; step++) {
      a.setGrad(FIX.tensor("grad/" + step + "/a"));
      b.setGrad(step == 3 ? null : FIX.tensor("grad/" + step + "/b"));
      opt.step();
      assertClose(a, FIX.tensor(name + "/after/" + step + "/a"), ATOL, RTOL, name + " group 0 after step " + step);
      assertClose(b, FIX.tensor(name + "/after/" + step + "/b"), ATOL, RTOL, name + " group 1 after step " + step);
    }
  }

  /** The fixture tolerance does catch a missing weight-decay term: SGD without it drifts past ATOL. */
  @Test
  void toleranceCatchesAMissingWeightDecayTerm() {
    Parameter a = Parameter.of(FIX.tensor("init/a"));
    Parameter b = Parameter.of(FIX.tensor("init/b"));
    Optimizer opt = new SGD(SGD.Options.lr(0.1).withMomentum(0.9),
        ParamGroup.of(Map.of("a", a)).lr(0.5), ParamGroup.of(Map.of("b", b)));
    double worst = 0;
    for (int step = 0; step < 5; step++) {
      a.setGrad(FIX.tensor("grad/" + step + "/a"));
      b.setGrad(step == 3 ? null : FIX.tensor("grad/" + step + "/b"));
      opt.step();
      Tensor expected = FIX.tensor("sgd_weight_decay/after/" + step + "/b");
      double[] x = b.toDoubleArray();
      double[] y = expected.toDoubleArray();
      for (int i = 0; i < x.length; i++) {
        worst = Math.max(worst, Math.abs(x[i] - y[i]));
      }
    }
    org.junit.jupiter.api.Assertions.assertTrue(worst > 5 * ATOL, "difference without weight decay: " + worst);
  }
}
