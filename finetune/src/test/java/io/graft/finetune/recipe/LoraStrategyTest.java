package io.graft.finetune.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.core.init.Init;
import io.graft.layers.Module;
import io.graft.layers.lora.Lora;
import io.graft.layers.lora.LoraConfig;
import io.graft.optim.Optimizer;
import io.graft.optim.ParamGroup;
import io.graft.zoo.models.Zoo;
import java.util.List;
import org.junit.jupiter.api.Test;

class LoraStrategyTest {
  @Test
  void parsesTheCommandLineFormAndPrintsItBack() {
    Strategy s = Strategy.parse("lora:r=4,alpha=16,targets=encoder.layers.*.mlp.0,*.out_proj,dropout=0.05");
    LoraConfig c = ((Strategy.Lora) s).config();
    assertEquals(4, c.r());
    assertEquals(16.0, c.alpha());
    assertEquals(0.05, c.dropout());
    assertEquals(List.of("encoder.layers.*.mlp.0", "*.out_proj"), c.targets());
    assertEquals("lora:r=4,alpha=16,dropout=0.05,targets=encoder.layers.*.mlp.0,*.out_proj", s.label());
    assertEquals(s, Strategy.parse(s.label()));
    Strategy d = Strategy.parse("lora:targets=fc1");
    assertEquals("lora:r=8,alpha=8,dropout=0,targets=fc1", d.label());
  }

  @Test
  void refusesMalformedLoraStrategiesNamingThePart() {
    assertTrue(assertThrows(GraftException.class, () -> Strategy.parse("lora")).getMessage().contains("targets"));
    assertTrue(assertThrows(GraftException.class, () -> Strategy.parse("lora:r=4")).getMessage()
        .contains("no targets"));
    assertTrue(assertThrows(GraftException.class, () -> Strategy.parse("lora:r=0,targets=a")).getMessage()
        .contains("r must be in [1, 65536]"));
    assertTrue(assertThrows(GraftException.class, () -> Strategy.parse("lora:rank=4,targets=a")).getMessage()
        .contains("unknown LoRA setting 'rank'"));
    assertTrue(assertThrows(GraftException.class, () -> Strategy.parse("lora:a,targets=b")).getMessage()
        .contains("'a' is not KEY=VALUE"));
    assertTrue(assertThrows(GraftException.class, () -> Strategy.parse("lora:r=2,r=3,targets=b")).getMessage()
        .contains("'r' is given twice"));
    assertTrue(assertThrows(GraftException.class, () -> Strategy.parse("lora:targets=a,,b")).getMessage()
        .contains("'' is not KEY=VALUE"));
  }

  @Test
  void prepareAdaptsTheTargetsAndTrainsTheHeadAndOptimizesOnlyThose() {
    Init.manualSeed(0);
    Module m = Zoo.create("smallcnn", 5);
    FineTune ft = new FineTune(FineTune.Options.lr(0.01).withOptimizer("adamw", 0, 0)
        .withStrategy(Strategy.parse("lora:r=2,targets=features.0,features.4")));
    ft.prepare(m, 3);
    assertEquals(List.of("features.0", "features.4"), List.copyOf(Lora.layers(m).keySet()));
    assertEquals(List.of("head"), ft.loraConfig(m).modulesToSave());
    Optimizer opt = ft.optimizer(m);
    long inGroups = 0;
    for (ParamGroup g : opt.paramGroups()) {
      for (Parameter p : g.params().values()) {
        assertTrue(p.requiresGrad(), "only trainable parameters are given to the optimizer");
        inGroups++;
      }
    }
    assertEquals(4 + 2, inGroups, "four adapter matrices and the head's weight and bias");
    m.namedParameters().forEach((k, p) -> assertEquals(k.contains("lora_") || k.startsWith("head."),
        p.requiresGrad(), k));
    assertNull(m.get("fc1", io.graft.layers.Linear.class).weight().grad());
    assertThrows(GraftException.class, () -> new FineTune(FineTune.Options.lr(0.01).withLayerDecay(0.5)
        .withStrategy(Strategy.parse("lora:targets=features.0"))));
  }
}
