package io.graft.finetune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.io.Safetensors;
import io.graft.layers.Module;
import io.graft.zoo.models.Zoo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The command line's manners, checked in a child JVM as a user runs it ({@code Graft.main}): no ND4J banner (nothing
 * on standard error unless asked, one line with {@code -v}), every command's {@code --help} without picocli
 * warnings and with its defaults, one flag name per concept.
 */
class CliConventionsTest {
  @TempDir
  Path tmp;

  record Child(int code, String out, String err) {}

  Child graft(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx1g", "-cp", System.getProperty("java.class.path"), Graft.class.getName()));
    cmd.addAll(List.of(args));
    Path out = tmp.resolve("out.txt");
    Path err = tmp.resolve("err.txt");
    Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), "graft " + String.join(" ", args) + " did not finish");
    return new Child(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
        Files.readString(err, StandardCharsets.UTF_8));
  }

  @Test
  void noBannerAndOneLineWithVerbose() throws Exception {
    Module m = Zoo.create("smallcnn", 5);
    Path w = tmp.resolve("w.safetensors");
    Safetensors.write(w, m.stateDict(), Map.of());
    Child quiet = graft("inspect", w.toString());
    assertEquals(0, quiet.code(), quiet.err());
    assertEquals("", quiet.err(), "nothing on standard error without -v");
    assertTrue(quiet.out().contains("fc1.weight"), quiet.out());
    for (String[] args : List.of(new String[] {"-v", "inspect", w.toString()},
        new String[] {"inspect", "--verbose", w.toString()})) {
      Child verbose = graft(args);
      assertEquals(0, verbose.code(), verbose.err());
      List<String> lines = verbose.err().lines().toList();
      assertEquals(1, lines.size(), verbose.err());
      assertTrue(lines.get(0).startsWith("graft: " + Graft.version() + "; ND4J ") && lines.get(0).endsWith(" threads"),
          lines.get(0));
      assertEquals(quiet.out(), verbose.out());
    }
  }

  @Test
  void everyHelpShowsItsDefaultsWithoutPicocliWarnings() throws Exception {
    CommandLine graft = new CommandLine(new Graft());
    List<CommandLine> commands = new ArrayList<>(List.of(graft));
    commands.addAll(graft.getSubcommands().values());
    int defaults = 0;
    for (CommandLine c : commands) {
      String name = c.getCommandName();
      Child h = c == graft ? graft("--help") : graft(name, "--help");
      assertEquals(0, h.code(), name + ": " + h.err());
      assertFalse(h.err().contains("[picocli WARN]"), name + " --help: " + h.err());
      assertEquals("", h.err(), name + " --help");
      assertTrue(h.out().contains("-v, --verbose"), name + " --help has no -v:\n" + h.out());
      for (OptionSpec o : c.getCommandSpec().options()) {
        if (o.defaultValue() != null && !o.usageHelp() && !o.versionHelp()) {
          String shown = "Default: " + o.defaultValue().replace(",", ", ");
          assertTrue(h.out().contains(shown) || h.out().contains("Default: " + o.defaultValue()),
              name + " --help does not show " + o.longestName() + "'s default " + o.defaultValue() + ":\n" + h.out());
          defaults++;
        }
      }
    }
    assertTrue(defaults >= 20, "defaults checked: " + defaults);
  }

  @Test
  void oneFlagNamePerConcept() {
    CommandLine graft = new CommandLine(new Graft());
    List<String> all = new ArrayList<>();
    for (CommandLine c : graft.getSubcommands().values()) {
      for (OptionSpec o : c.getCommandSpec().options()) {
        all.addAll(List.of(o.names()));
      }
    }
    for (String retired : List.of("--batch", "--output", "--scheduler", "--warmup", "--bs", "--threads")) {
      assertFalse(all.contains(retired), retired + " is spelt another way elsewhere");
    }
    assertTrue(all.contains("--batch-size") && all.contains("--out") && all.contains("--workers"));
  }
}
