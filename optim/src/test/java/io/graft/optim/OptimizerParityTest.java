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
    CASES.put("adam_weight_decay", g -> new Adam(Adam.Options.lr(1e-3).withWeightDecay(1e-2), g));
    CASES.put("adam_amsgrad", g -> new Adam(Adam.Options.lr(1e-3).withBetas(0.8, 0.99).withEps(1e-6)
        .withAmsgrad(true), g));
    CASES.put("adamw", g -> new AdamW(AdamW.defaults(1e-3), g));
    CASES.put("adamw_weight_decay", g -> new AdamW(Adam.Options.lr(1e-3).withWeightDecay(0.1).withAmsgrad(true), g));
    CASES.put("sgd_group_options", g -> new SGD(SGD.Options.lr(0.1).withMomentum(0.9).withNesterov(true), g));
    CASES.put("adam_group_options", g -> new Adam(Adam.Options.lr(1e-3), g));
  }

  /** Options of the first group beyond its lr, as in the generator's {@code GROUP_A}; the second keeps the defaults. */
  static ParamGroup groupA(String name, ParamGroup a) {
    return switch (name) {
      case "sgd_group_options" -> a.momentum(0.5).with(SGD.Options.class, o -> o.withDampening(0.3)
          .withNesterov(false)).weightDecay(1e-2);
      case "adam_group_options" -> a.with(Adam.Options.class, o -> o.withBetas(0.8, 0.95).withEps(1e-6))
          .weightDecay(1e-2).with(Adam.Options.class, o -> o.withAmsgrad(true));
      default -> a;
    };
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
    Optimizer opt = make.apply(new ParamGroup[] {groupA(name, ParamGroup.of(Map.of("a", a)).lr(lrA)),
        ParamGroup.of(Map.of("b", b))});
    for (int step = 0; step < 5; step++) {
      a.setGrad(FIX.tensor("grad/" + step + "/a"));
      b.setGrad(step == 3 ? null : FIX.tensor("grad/" + step + "/b"));
      opt.step();
      assertClose(a, FIX.tensor(name + "/after/" + step + "/a"), ATOL, RTOL, name + " group 0 after step " + step);
      assertClose(b, FIX.tensor(name + "/after/" + step + "/b"), ATOL, RTOL, name + " group 1 after step " + step);
    }
  }

  /** The fixture tolerance does catch a missing weight-decay term, for SGD's and for Adam's (L2) form. */
  @Test
  void toleranceCatchesAMissingWeightDecayTerm() {
    double sgd = worstDifference(new SGD(SGD.Options.lr(0.1).withMomentum(0.9), groups()), "sgd_weight_decay", 0.5);
    double adam = worstDifference(new Adam(Adam.Options.lr(1e-3), groups()), "adam_weight_decay", 5e-3);
    org.junit.jupiter.api.Assertions.assertTrue(sgd > 5 * ATOL, "SGD difference without weight decay: " + sgd);
    org.junit.jupiter.api.Assertions.assertTrue(adam > 5 * ATOL, "Adam difference without weight decay: " + adam);
  }

  private static ParamGroup[] groups() {
    return new ParamGroup[] {ParamGroup.of(Map.of("a", Parameter.of(FIX.tensor("init/a")))),
        ParamGroup.of(Map.of("b", Parameter.of(FIX.tensor("init/b"))))};
  }

  /** Runs {@code opt} (built over {@link #groups()}, without weight decay) against a weight-decay fixture case. */
  private static double worstDifference(Optimizer opt, String fixtureCase, double lrA) {
    opt.paramGroups().get(0).lr(lrA);
    Parameter a = opt.paramGroups().get(0).params().get("a");
    Parameter b = opt.paramGroups().get(1).params().get("b");
    double worst = 0;
    for (int step = 0; step < 5; step++) {
      a.setGrad(FIX.tensor("grad/" + step + "/a"));
      b.setGrad(step == 3 ? null : FIX.tensor("grad/" + step + "/b"));
      opt.step();
      for (Parameter p : new Parameter[] {a, b}) {
        double[] x = p.toDoubleArray();
        double[] y = FIX.tensor(fixtureCase + "/after/" + step + "/" + (p == a ? "a" : "b")).toDoubleArray();
        for (int i = 0; i < x.length; i++) {
          worst = Math.max(worst, Math.abs(x[i] - y[i]));
        }
      }
    }
    return worst;
  }
}
