package io.graft.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import io.graft.layers.Linear;
import io.graft.layers.Sequential;
import io.graft.layers.activation.ReLU;
import io.graft.layers.params.Params;
import io.graft.optim.scheduler.CosineAnnealingLR;
import io.graft.optim.scheduler.LRScheduler;
import io.graft.optim.scheduler.LinearLR;
import io.graft.optim.scheduler.OneCycleLR;
import io.graft.optim.scheduler.ReduceLROnPlateau;
import io.graft.optim.scheduler.Scheduler;
import io.graft.optim.scheduler.SequentialLR;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Saving optimizer and scheduler state mid-run and restoring it into fresh objects continues bit for bit. */
class StateTest {
  static Sequential net() {
    Rng rng = new Rng(21);
    return new Sequential(new Linear(4, 16, true, rng), new ReLU(), new Linear(16, 2, true, rng));
  }

  record Run(Sequential model, Optimizer opt, Scheduler sched) {}

  static Run start(Function<Sequential, Optimizer> makeOpt) {
    Sequential m = net();
    Optimizer o = makeOpt.apply(m);
    List<LRScheduler> parts = List.of(new LinearLR(o, 0.2, 1.0, 3), new CosineAnnealingLR(o, 7, 1e-4));
    return new Run(m, o, new SequentialLR(o, parts, 3));
  }

  static void train(Run r, int from, int to) {
    for (int step = from; step < to; step++) {
      r.opt.zeroGrad();
      r.model.call(Tensor.randn(new Rng(100 + step), 8, 4)).pow(2).mean().backward();
      r.opt.step();
      r.sched.step();
    }
  }

  @SuppressWarnings("unchecked")
  static void check(Function<Sequential, Optimizer> makeOpt) throws Exception {
    Run straight = start(makeOpt);
    train(straight, 0, 10);

    Run first = start(makeOpt);
    train(first, 0, 4);
    StateDict weights = new StateDict();
    first.model.stateDict().forEach(e -> weights.put(e.getKey(), Tensor.of(e.getValue().data().dup())));
    OptimizerState os = first.opt.stateDict();
    // the group options and scheduler state go through JSON, as in a checkpoint
    ObjectMapper json = new ObjectMapper();
    String groups = json.writeValueAsString(os.groups());
    String sched = json.writeValueAsString(first.sched.stateDict());

    Run resumed = start(makeOpt);
    resumed.model.loadStateDict(weights, true);
    resumed.opt.loadStateDict(new OptimizerState(os.optimizer(), os.tensors(),
        json.readValue(groups, new TypeReference<List<Map<String, Object>>>() {})));
    resumed.sched.loadStateDict(json.readValue(sched, new TypeReference<Map<String, Object>>() {}));
    train(resumed, 4, 10);
    for (Map.Entry<String, Parameter> e : straight.model.namedParameters().entrySet()) {
      assertArrayEquals(e.getValue().toFloatArray(), resumed.model.namedParameters().get(e.getKey()).toFloatArray(),
          makeOpt.apply(net()).getClass().getSimpleName() + " " + e.getKey());
    }
    assertArrayEquals(straight.sched.lastLr(), resumed.sched.lastLr());
  }

  @Test
  void sgdResumesBitForBit() throws Exception {
    check(m -> new SGD(SGD.Options.lr(0.1).withMomentum(0.9).withNesterov(true).withWeightDecay(1e-3),
        ParamGroup.of(Params.select(m, "2")).lr(0.5), ParamGroup.of(Params.select(m, "0"))));
  }

  @Test
  void adamResumesBitForBit() throws Exception {
    check(m -> new Adam(Adam.Options.lr(1e-2).withAmsgrad(true).withWeightDecay(1e-3), m.namedParameters()));
  }

  @Test
  void adamWResumesBitForBit() throws Exception {
    check(m -> new AdamW(AdamW.defaults(1e-2), m.namedParameters()));
  }

  /**
   * Schedulers with more state than a step counter: OneCycleLR (momentum cycling through the group options) and
   * ReduceLROnPlateau (best = infinity at the start, bad-epoch and cooldown counters) restored mid-run through JSON
   * give the same learning rates and momenta as an uninterrupted run.
   */
  @Test
  void oneCycleAndPlateauStateRoundTripsThroughJson() throws Exception {
    Function<Optimizer, Scheduler> oneCycle = o -> new OneCycleLR(o, 0.5, 40);
    Function<Optimizer, Scheduler> plateau = o -> new ReduceLROnPlateau(o,
        ReduceLROnPlateau.Options.defaults().withPatience(2).withCooldown(1).withFactor(0.5));
    for (Function<Optimizer, Scheduler> make : List.of(oneCycle, plateau)) {
      for (int at : new int[] {0, 3, 17}) {
        List<double[]> straight = schedule(make, 40, -1);
        assertTrue(straight.get(39)[0] < straight.get(5)[0], "the schedule moved the learning rate");
        List<double[]> resumed = schedule(make, 40, at);
        for (int i = 0; i < straight.size(); i++) {
          assertArrayEquals(straight.get(i), resumed.get(i), "step " + i + ", restored after step " + at);
        }
      }
    }
  }

  /** Learning rate and momentum of both groups after each step; restores into fresh objects after {@code at}. */
  private static List<double[]> schedule(Function<Optimizer, Scheduler> make, int steps, int at) throws Exception {
    ObjectMapper json = new ObjectMapper();
    Sequential m = net();
    Function<Sequential, Optimizer> makeOpt = n -> new SGD(SGD.Options.lr(0.1).withMomentum(0.9),
        ParamGroup.of(Params.select(n, "2")).lr(0.5), ParamGroup.of(Params.select(n, "0")));
    Optimizer o = makeOpt.apply(m);
    Scheduler s = make.apply(o);
    List<double[]> out = new ArrayList<>();
    for (int step = 0; step < steps; step++) {
      if (step == at) {
        String groups = json.writeValueAsString(o.stateDict().groups());
        String sched = json.writeValueAsString(s.stateDict());
        OptimizerState os = o.stateDict();
        o = makeOpt.apply(m);
        s = make.apply(o);
        o.loadStateDict(new OptimizerState(os.optimizer(), os.tensors(),
            json.readValue(groups, new TypeReference<List<Map<String, Object>>>() {})));
        s.loadStateDict(json.readValue(sched, new TypeReference<Map<String, Object>>() {}));
      }
      // a metric that improves, stalls and improves again, so the plateau schedule reduces and cools down
      s.step(step < 6 ? 1.0 / (1 + step) : step < 25 ? 0.2 : 0.1 / (step - 23));
      ParamGroup g0 = o.paramGroups().get(0);
      ParamGroup g1 = o.paramGroups().get(1);
      out.add(new double[] {g0.lr(), g1.lr(), ((SGD.Options) g0.options()).momentum(),
          ((SGD.Options) g1.options()).momentum()});
    }
    return out;
  }

  @Test
  void mismatchedStateIsRefusedBeforeAnythingChanges() {
    Run r = start(m -> new Adam(Adam.Options.lr(1e-2), m.namedParameters()));
    train(r, 0, 2);
    OptimizerState os = r.opt.stateDict();
    Sequential other = new Sequential(new Linear(4, 16), new ReLU(), new Linear(16, 3));
    Optimizer o2 = new Adam(Adam.Options.lr(1e-2), other.namedParameters());
    GraftException e = assertThrows(GraftException.class, () -> o2.loadStateDict(os));
    assertTrue(e.getMessage().contains("2.weight/exp_avg") && e.getMessage().contains("[2, 16]"), e.getMessage());
    assertTrue(o2.stateSize() == 0);
    assertThrows(GraftException.class, () -> new SGD(SGD.Options.lr(1), r.model.namedParameters()).loadStateDict(os));
    List<String> keys = new ArrayList<>(os.tensors().keys());
    assertTrue(keys.contains("0.weight/exp_avg_sq") && keys.contains("2.bias/step"), keys.toString());
  }
}
