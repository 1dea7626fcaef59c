package io.graft.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import io.graft.layers.Sequential;
import io.graft.layers.params.Params;
import io.graft.optim.scheduler.CosineAnnealingLR;
import io.graft.optim.scheduler.LRScheduler;
import io.graft.optim.scheduler.LinearLR;
import io.graft.optim.scheduler.OneCycleLR;
import io.graft.optim.scheduler.Scheduler;
import io.graft.optim.scheduler.SequentialLR;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The param groups of a saved optimizer state, as a checkpoint writes them (JSON), byte for byte: the expected
 * strings were written by Graft before the options became typed records, so checkpoints keep their bytes, and such
 * a saved state loads and saves again unchanged.
 */
class StateBytesTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  static final String SGD_GROUPS =
      "[{\"lr\":0.47524716853220966,\"momentum\":0.9,\"dampening\":0.0,\"nesterov\":true,\"weigh"
      + "t_decay\":0.001,\"initial_lr\":0.5,\"params\":[\"2.weight\",\"2.bias\"]},{\"lr\":0.09505339"
      + "495172584,\"momentum\":0.9,\"dampening\":0.0,\"nesterov\":true,\"weight_decay\":0.001,\"i"
      + "nitial_lr\":0.1,\"params\":[\"0.weight\",\"0.bias\"]}]";
  static final String ADAM_GROUPS =
      "[{\"lr\":0.10283342385313154,\"betas\":[0.9327430366972642,0.999],\"eps\":1.0E-8,\"weig"
      + "ht_decay\":0.001,\"amsgrad\":true,\"initial_lr\":0.02,\"max_lr\":0.5,\"min_lr\":2.0E-6,\"m"
      + "ax_momentum\":0.95,\"base_momentum\":0.85,\"params\":[\"0.weight\",\"0.bias\",\"2.weight\","
      + "\"2.bias\"]}]";
  static final String LOADED_GROUPS =
      "[{\"lr\":0.47524716853220966,\"momentum\":0.9,\"dampening\":0.0,\"nesterov\":true,\"weigh"
      + "t_decay\":0.001,\"initial_lr\":0.5,\"params\":[\"2.weight\",\"2.bias\"]},{\"lr\":0.25,\"mome"
      + "ntum\":0.9,\"dampening\":0.0,\"nesterov\":true,\"weight_decay\":0.001,\"initial_lr\":0.1,"
      + "\"custom\":[1.0,2.0],\"params\":[\"0.weight\",\"0.bias\"]}]";

  private static void train(Sequential m, Optimizer o, Scheduler s, int steps) {
    for (int step = 0; step < steps; step++) {
      o.zeroGrad();
      m.call(Tensor.randn(new Rng(100 + step), 8, 4)).pow(2).mean().backward();
      o.step();
      s.step();
    }
  }

  private static Optimizer sgd(Sequential m) {
    return new SGD(SGD.Options.lr(0.1).withMomentum(0.9).withNesterov(true).withWeightDecay(1e-3),
        ParamGroup.of(Params.select(m, "2")).lr(0.5), ParamGroup.of(Params.select(m, "0")));
  }

  private static Scheduler warmupCosine(Optimizer o) {
    List<LRScheduler> parts = List.of(new LinearLR(o, 0.2, 1.0, 3), new CosineAnnealingLR(o, 7, 1e-4));
    return new SequentialLR(o, parts, 3);
  }

  @Test
  void sgdGroupsWithAWarmUpScheduleKeepTheirBytes() throws Exception {
    Sequential m = StateTest.net();
    Optimizer o = sgd(m);
    train(m, o, warmupCosine(o), 4);
    assertEquals(SGD_GROUPS, JSON.writeValueAsString(o.stateDict().groups()));
  }

  @Test
  void adamGroupsWithOneCycleKeepTheirBytes() throws Exception {
    Sequential m = StateTest.net();
    Optimizer o = new Adam(Adam.Options.lr(1e-2).withAmsgrad(true).withWeightDecay(1e-3), m.namedParameters());
    train(m, o, new OneCycleLR(o, 0.5, 40), 3);
    assertEquals(ADAM_GROUPS, JSON.writeValueAsString(o.stateDict().groups()));
  }

  @Test
  void savedGroupsLoadAndSaveAgainUnchanged() throws Exception {
    Sequential m = StateTest.net();
    Optimizer o = sgd(m);
    train(m, o, warmupCosine(o), 4);
    OptimizerState os = o.stateDict();
    List<Map<String, Object>> groups = JSON.readValue(JSON.writeValueAsString(os.groups()),
        new TypeReference<List<Map<String, Object>>>() {});
    groups.get(1).put("custom", List.of(1, 2));   // a value PyTorch would keep in the group: kept as it came
    groups.get(1).put("lr", 0.25);
    Sequential fresh = StateTest.net();
    Optimizer resumed = sgd(fresh);
    warmupCosine(resumed);
    resumed.loadStateDict(new OptimizerState(os.optimizer(), os.tensors(), groups));
    assertEquals(LOADED_GROUPS, JSON.writeValueAsString(resumed.stateDict().groups()));
  }
}
