package io.graft.zoo.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Every case of the ONNX backend test suites {@code pytorch-converted}, {@code pytorch-operator} and the
 * {@code node} cases whose operators Graft supports, through {@link OnnxModel}. The cases that fail are listed,
 * with their reason, in {@code known-failures.txt}; the test fails when the set of failing cases differs from
 * that list in either direction, and prints the pass counts per suite (reported in docs/onnx.md).
 */
class OnnxBackendTest {

  @Test
  void pytorchConverted() throws IOException {
    check("pytorch-converted", false);
  }

  @Test
  void pytorchOperator() throws IOException {
    check("pytorch-operator", false);
  }

  @Test
  void nodeCasesOfSupportedOperators() throws IOException {
    check("node", true);
  }

  private static void check(String suite, boolean onlySupported) throws IOException {
    Map<String, String> failures = new TreeMap<>();
    int applicable = 0;
    int skippedUnsupported = 0;
    for (Path c : BackendCases.cases(suite)) {
      String name = suite + "/" + c.getFileName();
      List<String> ops = BackendCases.operators(c);
      if (onlySupported && !ops.stream().allMatch(Operators::supports)) {
        skippedUnsupported++;
        continue;
      }
      applicable++;
      String why;
      try {
        why = BackendCases.run(c);
      } catch (RuntimeException e) {
        why = e.getClass().getSimpleName() + ": " + e.getMessage();
      }
      if (why != null) {
        failures.put(name, why.replace('\n', ' '));
      }
    }
    Map<String, String> known = known(suite);
    StringBuilder report = new StringBuilder();
    report.append(String.format("ONNX backend %s: %d of %d cases pass%s%n", suite, applicable - failures.size(),
        applicable, onlySupported ? " (" + skippedUnsupported + " cases use operators Graft does not support)" : ""));
    for (Map.Entry<String, String> f : failures.entrySet()) {
      report.append("  FAIL ").append(f.getKey()).append(": ").append(trim(f.getValue())).append('\n');
    }
    System.out.print(report);
    Path out = Paths.get("target", "onnx-backend-" + suite + ".txt");
    Files.createDirectories(out.getParent());
    Files.writeString(out, report.toString());
    List<String> unexpected = new ArrayList<>();
    for (String f : failures.keySet()) {
      if (!known.containsKey(f)) {
        unexpected.add("newly failing: " + f + ": " + trim(failures.get(f)));
      }
    }
    for (String k : known.keySet()) {
      if (!failures.containsKey(k)) {
        unexpected.add("now passing (remove from known-failures.txt): " + k);
      }
    }
    assertEquals(List.of(), unexpected, suite + ": the failing cases differ from known-failures.txt");
  }

  private static String trim(String s) {
    return s.length() > 300 ? s.substring(0, 300) + "..." : s;
  }

  /** {@code suite/case: reason} lines; '#' starts a comment. */
  private static Map<String, String> known(String suite) throws IOException {
    Map<String, String> m = new TreeMap<>();
    try (InputStream in = OnnxBackendTest.class.getResourceAsStream("known-failures.txt")) {
      if (in == null) {
        return m;
      }
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        line = line.strip();
        if (line.isEmpty() || line.startsWith("#")) {
          continue;
        }
        int colon = line.indexOf(':');
        String key = colon < 0 ? line : line.substring(0, colon).strip();
        if (key.startsWith(suite + "/")) {
          m.put(key, colon < 0 ? "" : line.substring(colon + 1).strip());
        }
      }
    }
    return m;
  }
}
