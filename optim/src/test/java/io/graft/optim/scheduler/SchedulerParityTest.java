package io.graft.optim.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.Tensor;
import io.graft.optim.Adam;
import io.graft.optim.Optimizer;
import io.graft.optim.ParamGroup;
import io.graft.optim.SGD;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** LR (and cycled momentum) of two param groups over 100 steps against torch.optim.lr_scheduler 1.13. */
class SchedulerParityTest {
  static final JsonNode FIX = load();
  static final Map<String, Function<Optimizer, Scheduler>> CASES = new LinkedHashMap<>();
  static final List<String> ADAM = List.of("onecycle_linear_adam");

  static JsonNode load() {
    try (InputStream in = SchedulerParityTest.class.getResourceAsStream("/fixtures/optim/schedulers.json")) {
      return new ObjectMapper().readTree(in);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static {
    CASES.put("step", o -> new StepLR(o, 7, 0.5));
    CASES.put("multistep", o -> new MultiStepLR(o, new int[] {10, 30, 30, 80}, 0.2));
    CASES.put("exponential", o -> new ExponentialLR(o, 0.97));
    CASES.put("cosine", o -> new CosineAnnealingLR(o, 40, 1e-4));
    CASES.put("cosine_tmax100", o -> new CosineAnnealingLR(o, 100));
    CASES.put("linear_warmup", o -> new LinearLR(o, 0.25, 1.0, 10));
    CASES.put("onecycle_cos", o -> new OneCycleLR(o, new double[] {1.0, 0.1}, 101, OneCycleLR.Options.defaults()));
    CASES.put("onecycle_linear_adam", o -> new OneCycleLR(o, new double[] {0.3, 0.3}, 120,
        OneCycleLR.Options.defaults().withPctStart(0.25).withAnnealStrategy("linear").withDivFactors(10, 100)));
    CASES.put("plateau", o -> new ReduceLROnPlateau(o, ReduceLROnPlateau.Options.defaults().withFactor(0.5)
        .withPatience(3).withCooldown(2).withMinLr(1e-3, 1e-4)));
    CASES.put("plateau_max_abs", o -> new ReduceLROnPlateau(o, ReduceLROnPlateau.Options.defaults().withMode("max")
        .withThreshold(0.01, "abs").withPatience(2)));
    CASES.put("warmup_cosine", o -> new SequentialLR(o, List.of(new LinearLR(o, 0.1, 1.0, 5),
        new CosineAnnealingLR(o, 95, 1e-5)), 5));
  }

  static Optimizer optimizer(boolean adam) {
    ParamGroup g1 = ParamGroup.of(Map.of("p1", new Parameter(Tensor.zeros(2).data()))).lr(0.1);
    ParamGroup g2 = ParamGroup.of(Map.of("p2", new Parameter(Tensor.zeros(3).data()))).lr(0.01);
    return adam ? new Adam(Adam.Options.lr(0.05), g1, g2) : new SGD(SGD.Options.lr(0.05).withMomentum(0.9), g1, g2);
  }

  static double momentum(Optimizer o, int g) {
    ParamGroup pg = o.paramGroups().get(g);
    return pg.options() instanceof Adam.Options a ? a.beta1() : ((SGD.Options) pg.options()).momentum();
  }

  @Test
  void everyFixtureCaseIsCovered() {
    TreeSet<String> names = new TreeSet<>();
    FIX.get("cases").fieldNames().forEachRemaining(names::add);
    assertEquals(names, new TreeSet<>(CASES.keySet()));
  }

  @TestFactory
  Stream<DynamicTest> schedules() {
    return CASES.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(), () -> {
      JsonNode c = FIX.get("cases").get(e.getKey());
      Optimizer o = optimizer(ADAM.contains(e.getKey()));
      Scheduler s = e.getValue().apply(o);
      List<Double> metrics = new ArrayList<>();
      FIX.get("metrics").forEach(m -> metrics.add(m.asDouble()));
      for (int i = 0; i <= 100; i++) {
        if (i > 0) {
          double m = metrics.get(i - 1);
          s.step(e.getKey().equals("plateau_max_abs") ? -m : m);
        }
        for (int g = 0; g < 2; g++) {
          double lr = c.get("lr").get(i).get(g).asDouble();
          assertEquals(lr, o.paramGroups().get(g).lr(), 1e-12 * Math.max(1, Math.abs(lr)),
              e.getKey() + " lr of group " + g + " after " + i + " steps");
          double mom = c.get("momentum").get(i).get(g).asDouble();
          assertEquals(mom, momentum(o, g), 1e-12, e.getKey() + " momentum of group " + g + " after " + i + " steps");
        }
      }
    }));
  }

  @Test
  void misuseIsAClearError() {
    Optimizer o = optimizer(false);
    Scheduler plateau = new ReduceLROnPlateau(o, ReduceLROnPlateau.Options.defaults());
    assertThrows(GraftException.class, plateau::step);
    Scheduler one = new OneCycleLR(optimizer(false), 0.1, 3);
    one.step();
    one.step();
    one.step();
    assertThrows(GraftException.class, one::step);
    assertThrows(GraftException.class, () -> new StepLR(o, 0, 0.1));
  }

}
