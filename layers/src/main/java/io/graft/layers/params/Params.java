package io.graft.layers.params;

import io.graft.core.GraftException;
import io.graft.core.Parameter;
import io.graft.layers.Module;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Selecting parameters by name, for freezing and for optimizer param groups. A pattern is either a dotted
 * prefix ({@code "conv1"} selects {@code conv1.weight} and {@code conv1.bias}, never {@code layer1.0.conv1.*};
 * a full name selects that one parameter) or a glob where {@code *} matches any characters, dots included
 * ({@code "layer1.*"}, {@code "*.bn2.*"}, {@code "features.1?.*"}). A glob also selects everything below a module
 * path it matches ({@code "layer[34]"} is not a glob; {@code "layer*"} matches {@code layer1} ... {@code layer4}).
 */
public final class Params {
  private Params() {}

  /** Parameters matching any pattern, by dotted name in registration order; a pattern that matches nothing throws. */
  public static Map<String, Parameter> select(Module m, String... patterns) {
    Map<String, Parameter> all = m.namedParameters();
    Map<String, Parameter> out = new LinkedHashMap<>();
    List<String> unmatched = new ArrayList<>();
    for (String pattern : patterns) {
      boolean hit = false;
      for (Map.Entry<String, Parameter> e : all.entrySet()) {
        if (matches(pattern, e.getKey())) {
          out.put(e.getKey(), e.getValue());
          hit = true;
        }
      }
      if (!hit) {
        unmatched.add(pattern);
      }
    }
    if (!unmatched.isEmpty()) {
      throw new GraftException("no parameter matches " + unmatched + " in " + m.typeName() + "; top-level names: "
          + m.namedChildren().keySet() + (m.namedChildren().isEmpty() ? " (parameters: " + all.keySet() + ")" : ""));
    }
    return out;
  }

  /** Parameters under a module path prefix, e.g. {@code withPrefix(model, "fc")}. */
  public static List<Parameter> withPrefix(Module m, String... patterns) {
    return new ArrayList<>(select(m, patterns).values());
  }

  /** Every parameter not matched by the patterns (e.g. the backbone: {@code excluding(model, "fc")}). */
  public static List<Parameter> excluding(Module m, String... patterns) {
    Map<String, Parameter> chosen = select(m, patterns);
    List<Parameter> out = new ArrayList<>();
    for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
      if (!chosen.containsKey(e.getKey())) {
        out.add(e.getValue());
      }
    }
    return out;
  }

  /** Whether {@code pattern} selects the parameter {@code name}. */
  public static boolean matches(String pattern, String name) {
    if (pattern.indexOf('*') < 0 && pattern.indexOf('?') < 0) {
      return name.equals(pattern) || name.startsWith(pattern + ".");
    }
    Pattern re = glob(pattern);
    if (re.matcher(name).matches()) {
      return true;
    }
    for (int i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) {
      if (re.matcher(name.substring(0, i)).matches()) {
        return true;
      }
    }
    return false;
  }

  private static Pattern glob(String g) {
    StringBuilder sb = new StringBuilder();
    for (char c : g.toCharArray()) {
      switch (c) {
        case '*' -> sb.append(".*");
        case '?' -> sb.append('.');
        default -> sb.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return Pattern.compile(sb.toString());
  }
}
