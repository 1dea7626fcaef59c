package io.graft.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.layers.Sequential;
import io.graft.layers.params.Params;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A param group holds its optimizer's typed options: edits before and after it joins, and loading them back. */
class ParamGroupTest {
  @Test
  void editsMadeBeforeTheGroupJoinsApplyToTheDefaultsInOrder() {
    Sequential m = StateTest.net();
    ParamGroup g = ParamGroup.of(Params.select(m, "2")).lr(0.5).with(SGD.Options.class, o -> o.withDampening(0.3))
        .lr(0.25);
    GraftException early = assertThrows(GraftException.class, g::options);
    assertTrue(early.getMessage().contains("not in an optimizer"), early.getMessage());
    Optimizer opt = new SGD(SGD.Options.lr(0.1).withMomentum(0.9), g, ParamGroup.of(Params.select(m, "0")));
    assertEquals(new SGD.Options(0.25, 0.9, 0.3, false, 0), g.options());
    assertEquals(SGD.Options.lr(0.1).withMomentum(0.9), opt.paramGroups().get(1).options(), "the defaults");
    g.lr(0.125).momentum(0.5);
    assertEquals(new SGD.Options(0.125, 0.5, 0.3, false, 0), g.options(), "edits after joining apply at once");
    assertSame(g, g.options(((SGD.Options) g.options()).withNesterov(false)));
  }

  @Test
  void optionsOfAnotherOptimizerAreRefused() {
    Sequential m = StateTest.net();
    GraftException e = assertThrows(GraftException.class, () -> new Adam(Adam.Options.lr(1e-3),
        ParamGroup.of(m.namedParameters()).momentum(0.9)));
    assertTrue(e.getMessage().contains("'momentum'") && e.getMessage().contains("Adam"), e.getMessage());
    Optimizer sgd = new SGD(SGD.Options.lr(0.1), m.namedParameters());
    ParamGroup g = sgd.paramGroups().get(0);
    assertThrows(GraftException.class, () -> g.options(Adam.Options.lr(1e-3)));
    assertThrows(GraftException.class, () -> g.with(Adam.Options.class, o -> o.withEps(1e-6)));
    assertEquals(SGD.Options.lr(0.1), g.options(), "nothing changed");
    GraftException clash = assertThrows(GraftException.class, () -> g.schedulerValue("lr", 1.0));
    assertTrue(clash.getMessage().contains("'lr'"), clash.getMessage());
  }

  @Test
  void aSavedOptionOfTheWrongKindIsRefusedWithItsKeyBeforeAnythingChanges() {
    Sequential m = StateTest.net();
    Optimizer opt = new Adam(Adam.Options.lr(1e-3), m.namedParameters());
    OptimizerState os = opt.stateDict();
    for (Map.Entry<String, Object> bad : List.of(Map.entry("betas", (Object) List.of(0.9, 0.99, 0.5)),
        Map.entry("lr", (Object) "fast"), Map.entry("amsgrad", (Object) 1.0), Map.entry("extra", (Object) "x"))) {
      List<Map<String, Object>> groups = new ArrayList<>();
      Map<String, Object> g = new LinkedHashMap<>(os.groups().get(0));
      g.put(bad.getKey(), bad.getValue());
      groups.add(g);
      GraftException e = assertThrows(GraftException.class,
          () -> opt.loadStateDict(new OptimizerState(os.optimizer(), os.tensors(), groups)));
      assertTrue(e.getMessage().contains("group 0") && e.getMessage().contains("'" + bad.getKey() + "'"),
          e.getMessage());
      assertEquals(Adam.Options.lr(1e-3), opt.paramGroups().get(0).options(), "nothing changed");
    }
  }

  /**
   * Unnamed parameters take their index in the optimizer as their name before the names are checked, and names are
   * compared by value (a computed name equal to an earlier one is a clash too).
   */
  @Test
  void anUnnamedParameterWhoseIndexIsTakenIsRefused() {
    Sequential m = StateTest.net();
    Map<String, io.graft.core.Parameter> named = Map.of("1", m.get("0", io.graft.layers.Linear.class).weight());
    GraftException e = assertThrows(GraftException.class, () -> new SGD(SGD.Options.lr(0.1), ParamGroup.of(named),
        ParamGroup.of(List.of(m.get("2", io.graft.layers.Linear.class).weight()))));
    assertTrue(e.getMessage().contains("two parameters are named '1'"), e.getMessage());
    Optimizer ok = new SGD(SGD.Options.lr(0.1), ParamGroup.of(List.of(m.get("0", io.graft.layers.Linear.class)
        .weight())), ParamGroup.of(List.of(m.get("2", io.graft.layers.Linear.class).weight())));
    assertEquals(List.of("1"), new ArrayList<>(ok.paramGroups().get(1).params().keySet()));
    String computed = new StringBuilder("w").toString();
    GraftException twice = assertThrows(GraftException.class, () -> new SGD(SGD.Options.lr(0.1),
        ParamGroup.of(Map.of("w", m.get("0", io.graft.layers.Linear.class).weight())),
        ParamGroup.of(Map.of(computed, m.get("2", io.graft.layers.Linear.class).weight()))));
    assertTrue(twice.getMessage().contains("two parameters are named 'w'"), twice.getMessage());
  }
}
