package io.graft.finetune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@link RunRecord} and {@link ConfigReplay} on a command of their own: options they were never told about are
 * recorded and replayed; only Path options and FILE/DIR-labelled text options are taken for paths (a model named like
 * a folder of the working directory stays a name); a list option is replayed through its split.
 */
class RunRecordTest {
  @TempDir
  Path tmp;

  @Command(name = "toy", defaultValueProvider = ConfigReplay.class)
  static final class Toy implements Callable<Integer> {
    @Option(names = "--model")
    String model;

    @Option(names = "--weights", paramLabel = "FILE|imagenet")
    String weights;

    @Option(names = "--data", paramLabel = "DIR|scheme:DIR")
    String data;

    @Option(names = "--out")
    Path out;

    @Option(names = {"-n", "--batch-size"}, defaultValue = "4")
    int batchSize;

    @Option(names = "--tags", split = ",")
    List<String> tags;

    @Option(names = "--fast")
    boolean fast;

    @Option(names = ConfigReplay.OPTION)
    Path replay;

    @Spec
    CommandSpec spec;

    Map<String, Object> record;

    @Override
    public Integer call() {
      record = RunRecord.config(spec);
      return 0;
    }
  }

  static Toy run(String... args) {
    Toy t = new Toy();
    CommandLine cl = new CommandLine(t);
    cl.setErr(new PrintWriter(new StringWriter()));
    assertEquals(0, cl.execute(args));
    return t;
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> options(Toy t) {
    return (Map<String, Object>) t.record.get("options");
  }

  @Test
  void pathsAreResolvedOnlyWhereTheOptionHoldsPaths() {
    // the tests run in the module folder, where src/ exists
    String src = Path.of("src").toAbsolutePath().normalize().toString();
    Toy t = run("--model", "src", "--weights", "src", "--data", "scheme:src", "--out", "out", "--tags", "a,b");
    Map<String, Object> o = options(t);
    assertEquals("src", o.get("model"), "a text option without a FILE/DIR label is recorded as given");
    assertEquals(src, o.get("weights"));
    assertEquals("scheme:" + src, o.get("data"));
    assertEquals(Path.of("out").toAbsolutePath().normalize().toString(), o.get("out"));
    assertEquals(4, o.get("batch-size"), "the longest name, the default value");
    assertEquals(List.of("a", "b"), o.get("tags"));
    assertEquals(false, o.get("fast"));
    assertFalse(o.containsKey("config"));
    assertEquals(Map.of("weights", "src", "data", "scheme:src", "out", "out"), t.record.get("given"));
    assertEquals("imagenet", options(run("--weights", "imagenet")).get("weights"), "a keyword stays");
  }

  @Test
  void aRecordReplaysIntoTheSameOptionsWithTheCommandLineWinning() throws Exception {
    Toy t = run("--model", "m", "--weights", "src", "--data", "scheme:src", "--out", "out", "-n", "9", "--tags",
        "a,b,c", "--fast");
    Path file = tmp.resolve("metrics.json");
    new ObjectMapper().writeValue(file.toFile(), Map.of("history", List.of(Map.of("epoch", 1)), "config", t.record));
    Toy again = run("--config", file.toString());
    assertEquals(options(t), options(again));
    Toy over = run("--config", file.toString(), "--batch-size", "2", "--tags", "z");
    assertEquals(2, over.batchSize);
    assertEquals(List.of("z"), over.tags);
    assertEquals("m", over.model);
    assertTrue(over.fast);
  }

  /** The caps: a config block over 1 MiB, a string over 1 Mi characters; a big history around the block is skipped. */
  @Test
  void aReplayedFileIsReadWithinItsCaps() throws Exception {
    ObjectMapper json = new ObjectMapper();
    Path file = tmp.resolve("run.json");
    java.util.List<Integer> many = java.util.Collections.nCopies(300_000, 1234);
    json.writeValue(file.toFile(), Map.of("config", Map.of("options", Map.of("model", "m"), "padding", many)));
    io.graft.core.GraftException big = org.junit.jupiter.api.Assertions.assertThrows(
        io.graft.core.GraftException.class, () -> ConfigReplay.read(file));
    assertTrue(big.getMessage().contains(file + ": a ") && big.getMessage().contains("-byte 'config' block, more "
        + "than the 1048576-byte cap"), big.getMessage());
    json.writeValue(file.toFile(), Map.of("config", Map.of("options", Map.of("model", "x".repeat(1_100_000)))));
    io.graft.core.GraftException longString = org.junit.jupiter.api.Assertions.assertThrows(
        io.graft.core.GraftException.class, () -> ConfigReplay.read(file));
    assertTrue(longString.getMessage().contains(file.toString()), longString.getMessage());
    // a large history before and after the block is streamed past
    Map<String, Object> doc = new java.util.LinkedHashMap<>();
    doc.put("history", java.util.Collections.nCopies(100_000, Map.of("epoch", 1, "val_confusion", List.of(List.of(1)))));
    doc.put("config", Map.of("options", Map.of("model", "m")));
    doc.put("after", many);
    json.writeValue(file.toFile(), doc);
    assertEquals(Map.of("model", "m"), ConfigReplay.read(file).get("options"));
  }
}
