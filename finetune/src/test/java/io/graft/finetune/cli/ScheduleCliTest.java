package io.graft.finetune.cli;

import static io.graft.finetune.cli.GraftCliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.graft.core.io.Safetensors;
import io.graft.finetune.cli.GraftCliTest.Result;
import io.graft.finetune.recipe.FineTune;
import io.graft.layers.Module;
import io.graft.optim.Optimizer;
import io.graft.optim.ParamGroup;
import io.graft.optim.scheduler.CosineAnnealingLR;
import io.graft.optim.scheduler.LinearLR;
import io.graft.optim.scheduler.OneCycleLR;
import io.graft.optim.scheduler.ReduceLROnPlateau;
import io.graft.optim.scheduler.Scheduler;
import io.graft.optim.scheduler.SequentialLR;
import io.graft.optim.scheduler.StepLR;
import io.graft.zoo.models.SmallCNN;
import io.graft.zoo.models.Zoo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --lr-schedule} and {@code --warmup-epochs}: the per-epoch learning rates a {@code graft finetune} run
 * records equal those of the API's schedulers on the same param groups (head 0.05, backbone 0.005), stepped once per
 * epoch; and {@code --backbone-lr} (absolute) and {@code --backbone-lr-scale} (a multiple of {@code --lr}) agree.
 */
class ScheduleCliTest {
  static final int EPOCHS = 4;

  @TempDir
  Path tmp;

  Path data;
  Path weights;

  @BeforeEach
  void data() throws Exception {
    Map<String, Map<String, Integer>> splits = new LinkedHashMap<>();
    Map<String, Integer> three = new LinkedHashMap<>();
    three.put("bag", 4);
    three.put("dress", 4);
    three.put("shirt", 4);
    splits.put("train", three);
    splits.put("val", three);
    data = TinyImageFolder.make(tmp.resolve("data"), splits);
    io.graft.core.init.Init.manualSeed(1);
    Module m = Zoo.create("smallcnn", 5);
    weights = tmp.resolve("smallcnn.safetensors");
    Safetensors.write(weights, m.stateDict(), Map.of());
  }

  /** The run's metrics.json history. */
  JsonNode finetune(String name, String... extra) throws Exception {
    Path out = tmp.resolve(name);
    List<String> a = new ArrayList<>(List.of("finetune", "--model", "smallcnn", "--weights", weights.toString(),
        "--data", data.toString(), "--batch-size", "6", "--no-progress", "--epochs", String.valueOf(EPOCHS), "--out",
        out.toString()));
    a.addAll(List.of(extra));
    if (!a.contains("--lr")) {
      a.addAll(List.of("--lr", "0.05"));
    }
    Result r = run(a.toArray(String[]::new));
    assertEquals(0, r.code(), r.err());
    return new ObjectMapper().readTree(out.resolve("metrics.json").toFile()).get("history");
  }

  /** Each epoch's recorded rates, one row per epoch. */
  static double[][] recorded(JsonNode history) {
    double[][] lr = new double[history.size()][];
    for (int e = 0; e < history.size(); e++) {
      JsonNode l = history.get(e).get("lr");
      lr[e] = new double[l.size()];
      for (int g = 0; g < l.size(); g++) {
        lr[e][g] = l.get(g).asDouble();
      }
    }
    return lr;
  }

  /** The API's curve: the scheduler on the recipe's param groups, stepped after each epoch as the trainer does. */
  static double[][] api(Function<Optimizer, Scheduler> make, double headLr, double[] valLoss) {
    SmallCNN m = new SmallCNN(5);
    FineTune ft = new FineTune(FineTune.Options.lr(headLr).withBackboneLrScale(0.1));
    ft.prepare(m, 3);
    Optimizer opt = ft.optimizer(m);
    Scheduler s = make.apply(opt);
    double[][] lr = new double[EPOCHS][];
    for (int e = 0; e < EPOCHS; e++) {
      if (s != null) {
        s.step(valLoss[e]);
      }
      lr[e] = opt.paramGroups().stream().mapToDouble(ParamGroup::lr).toArray();
    }
    return lr;
  }

  static double[] valLoss(JsonNode history) {
    double[] v = new double[history.size()];
    for (int e = 0; e < v.length; e++) {
      v[e] = history.get(e).get("val_loss").asDouble();
    }
    return v;
  }

  /** The run with {@code flags} records, epoch by epoch, the rates {@code make}'s scheduler gives. */
  void assertCurve(Function<Optimizer, Scheduler> make, String name, String... flags) throws Exception {
    JsonNode h = finetune(name, flags);
    int lrAt = List.of(flags).indexOf("--lr");
    double lr = lrAt < 0 ? 0.05 : Double.parseDouble(flags[lrAt + 1]);
    double[][] cli = recorded(h);
    double[][] expected = api(make, lr, valLoss(h));
    assertEquals(EPOCHS, cli.length);
    boolean moved = false;
    for (int e = 0; e < EPOCHS; e++) {
      assertArrayEquals(expected[e], cli[e], 0, String.join(" ", flags) + ": epoch " + (e + 1));
      moved |= cli[e][0] != lr;
    }
    // not vacuous: every schedule but constant moves the head's rate within the run
    assertEquals(!name.equals("constant"), moved, name + ": " + java.util.Arrays.deepToString(cli));
  }

  @Test
  void everyScheduleFollowsTheApisSchedulerExactly() throws Exception {
    assertCurve(o -> null, "constant", "--lr-schedule", "constant");
    assertCurve(o -> new LinearLR(o, 1.0 / 3, 1.0, 2), "constant-warm", "--warmup-epochs", "2");
    assertCurve(o -> new StepLR(o, 2, 0.5), "step", "--lr-schedule", "step", "--lr-step-size", "2", "--lr-gamma",
        "0.5");
    assertCurve(o -> new SequentialLR(o, List.of(new LinearLR(o, 1.0 / 3, 1.0, 2), new StepLR(o, 1, 0.1)), 2),
        "step-warm", "--lr-schedule", "step", "--lr-step-size", "1", "--warmup-epochs", "2");
    assertCurve(o -> new CosineAnnealingLR(o, EPOCHS), "cosine", "--lr-schedule", "cosine");
    assertCurve(o -> new SequentialLR(o, List.of(new LinearLR(o, 0.5, 1.0, 1), new CosineAnnealingLR(o, EPOCHS - 1)),
        1), "cosine-warm", "--lr-schedule", "cosine", "--warmup-epochs", "1");
    // max_lr = each group's lr, as [g['lr'] for g in opt.param_groups] in PyTorch
    assertCurve(o -> new OneCycleLR(o, o.paramGroups().stream().mapToDouble(ParamGroup::lr).toArray(), EPOCHS,
        OneCycleLR.Options.defaults()),
        "onecycle", "--lr-schedule", "onecycle");
    // a rate too small to move the validation loss by the threshold (1e-4, relative), yet above min_lr + eps: the
    // plateau cuts it after every epoch without improvement
    assertCurve(o -> new ReduceLROnPlateau(o, ReduceLROnPlateau.Options.defaults().withFactor(0.5).withPatience(0)),
        "plateau", "--lr-schedule", "plateau", "--lr-factor", "0.5", "--lr-patience", "0", "--lr", "1e-6");
  }

  @Test
  void badScheduleFlagsAreRefusedByName() {
    String[][] cases = {
        {"--lr-schedule", "linear"}, {"unknown schedule 'linear'"},
        {"--lr-schedule", "step"}, {"--lr-schedule step needs --lr-step-size"},
        {"--lr-gamma", "0.5"}, {"--lr-gamma is a parameter of --lr-schedule step"},
        {"--lr-schedule", "plateau", "--warmup-epochs", "1"}, {"cannot follow --warmup-epochs"},
        {"--lr-schedule", "onecycle", "--warmup-epochs", "1"}, {"cannot follow --warmup-epochs"},
        {"--warmup-epochs", "4"}, {"--warmup-epochs 4 leaves no epoch"},
        {"--lr-schedule", "plateau", "--lr-factor", "1"}, {"--lr-factor must lie in (0, 1)"},
        {"--backbone-lr", "0.1", "--backbone-lr-scale", "0.1"}, {"not both"},
        {"--workers", "-1"}, {"--workers"},
    };
    for (int i = 0; i < cases.length; i += 2) {
      List<String> a = new ArrayList<>(List.of("finetune", "--model", "smallcnn", "--weights", weights.toString(),
          "--data", data.toString(), "--epochs", String.valueOf(EPOCHS), "--out", tmp.resolve("bad").toString()));
      a.addAll(List.of(cases[i]));
      Result r = run(a.toArray(String[]::new));
      assertEquals(Graft.BAD_INPUT, r.code(), String.join(" ", cases[i]) + ": " + r.err());
      assertTrue(r.err().contains(cases[i + 1][0]), r.err());
    }
  }

  @Test
  void backboneLrIsAbsoluteAndBackboneLrScaleAMultipleOfLr() throws Exception {
    double[][] absolute = recorded(finetune("abs", "--backbone-lr", "0.005"));
    double[][] scale = recorded(finetune("scale", "--backbone-lr-scale", "0.1"));
    double[][] byDefault = recorded(finetune("default"));
    for (int e = 0; e < EPOCHS; e++) {
      assertArrayEquals(new double[] {0.05, 0.005}, absolute[e], 1e-18);
      assertArrayEquals(absolute[e], scale[e], 1e-18);
      assertArrayEquals(absolute[e], byDefault[e], 1e-18);
    }
    // an absolute rate does not scale with --lr
    double[][] other = recorded(finetune("abs2", "--lr", "0.2", "--backbone-lr", "0.005"));
    assertArrayEquals(new double[] {0.2, 0.005}, other[0], 1e-18);
  }
}
