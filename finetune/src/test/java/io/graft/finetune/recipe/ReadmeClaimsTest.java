package io.graft.finetune.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The README's demo table is not written by hand: it must be exactly the table rendered from the committed demo run
 * ({@code docs/demo/metrics.json}, written by {@code graft demo --out docs/demo}), and that run must reproduce
 * PyTorch's transfer experiment within half a point per strategy.
 */
class ReadmeClaimsTest {
  static final Path ROOT = Path.of("").toAbsolutePath().getParent(); // surefire runs in the module's folder
  static final String BEGIN = "<!-- demo table: generated from docs/demo/metrics.json (Demo.readmeTable) -->";

  @Test
  void theReadmeQuotesTheCommittedDemoRun() throws Exception {
    JsonNode run = new ObjectMapper().readTree(ROOT.resolve("docs/demo/metrics.json").toFile());
    String readme = Files.readString(ROOT.resolve("README.md"));
    int at = readme.indexOf(BEGIN);
    assertTrue(at >= 0, "README.md has no '" + BEGIN + "' marker");
    int open = readme.indexOf("```\n", at) + 4;
    int close = readme.indexOf("```", open);
    assertEquals(Demo.readmeTable(run), readme.substring(open, close),
        "README.md's demo table differs from docs/demo/metrics.json; paste the expected table into the README");
  }

  @Test
  void theCommittedRunReproducesPyTorchWithinHalfAPoint() throws Exception {
    JsonNode run = new ObjectMapper().readTree(ROOT.resolve("docs/demo/metrics.json").toFile());
    assertEquals(3, run.path("strategies").size());
    run.path("strategies").fields().forEachRemaining(e -> {
      double gap = e.getValue().path("graft_mean").asDouble() - e.getValue().path("pytorch_mean").asDouble();
      assertTrue(Math.abs(gap) <= 0.5, e.getKey() + ": Graft is " + gap + " points from PyTorch");
    });
  }
}
