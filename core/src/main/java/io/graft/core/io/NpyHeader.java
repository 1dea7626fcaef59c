package io.graft.core.io;

import io.graft.core.GraftException;
import io.graft.core.Shapes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The header of a {@code .npy} file: a Python dict literal such as
 * {@code {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }}, parsed as the literal it is (NumPy reads it
 * with {@code ast.literal_eval}) by a small strict parser: keys are strings, values are strings, {@code True} /
 * {@code False} or tuples of integers, and anything else is refused with a message naming it. A repeated key keeps
 * its last value, as a Python dict literal does. The dict must hold exactly {@code descr}, {@code fortran_order} and
 * {@code shape}, as NumPy requires; a shape with more than {@link Shapes#MAX_RANK} entries is refused as soon as it
 * is seen.
 */
record NpyHeader(String descr, boolean fortranOrder, long[] shape) {
  /** Parses {@code text}; {@code src} names the file in errors. */
  static NpyHeader parse(String text, String src) {
    Parser p = new Parser(text, src);
    Map<String, Object> dict = p.dict();
    p.skipSpace();
    if (p.pos != text.length()) {
      throw p.error("unexpected text after the header dict");
    }
    if (!dict.keySet().equals(java.util.Set.of("descr", "fortran_order", "shape"))) {
      throw new GraftException(src + ": .npy header must hold exactly the keys 'descr', 'fortran_order' and "
          + "'shape', got " + dict.keySet());
    }
    if (!(dict.get("descr") instanceof String descr)) {
      throw new GraftException(src + ": .npy header 'descr' must be a string (structured dtypes are not supported), "
          + "got " + describe(dict.get("descr")));
    }
    if (!(dict.get("fortran_order") instanceof Boolean fortran)) {
      throw new GraftException(src + ": .npy header 'fortran_order' must be True or False, got "
          + describe(dict.get("fortran_order")));
    }
    if (!(dict.get("shape") instanceof long[] shape)) {
      throw new GraftException(src + ": .npy header 'shape' must be a tuple of integers, got "
          + describe(dict.get("shape")));
    }
    return new NpyHeader(descr, fortran, shape);
  }

  private static String describe(Object v) {
    return v instanceof String s ? "'" + s + "'" : v instanceof long[] t ? Shapes.str(t) : String.valueOf(v);
  }

  private static final class Parser {
    final String s;
    final String src;
    int pos;

    Parser(String s, String src) {
      this.s = s;
      this.src = src;
    }

    GraftException error(String what) {
      int from = Math.max(0, pos - 20);
      int to = Math.min(s.length(), pos + 20);
      return new GraftException(src + ": malformed .npy header: " + what + " at character " + pos + " (near '"
          + s.substring(from, to).replaceAll("[^\\x20-\\x7e]", "?") + "')");
    }

    void skipSpace() {
      while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
        pos++;
      }
    }

    boolean eat(char c) {
      skipSpace();
      if (pos < s.length() && s.charAt(pos) == c) {
        pos++;
        return true;
      }
      return false;
    }

    void expect(char c) {
      if (!eat(c)) {
        throw error("expected '" + c + "'");
      }
    }

    Map<String, Object> dict() {
      expect('{');
      Map<String, Object> out = new LinkedHashMap<>();
      while (!eat('}')) {
        skipSpace();
        if (pos >= s.length() || (s.charAt(pos) != '\'' && s.charAt(pos) != '"')) {
          throw error("expected a string key");
        }
        String key = string();
        expect(':');
        out.remove(key); // last wins, and takes the last position (irrelevant here)
        out.put(key, value(key));
        if (!eat(',')) {
          expect('}');
          break;
        }
      }
      return out;
    }

    Object value(String key) {
      skipSpace();
      if (pos >= s.length()) {
        throw error("missing value for '" + key + "'");
      }
      char c = s.charAt(pos);
      if (c == '\'' || c == '"') {
        return string();
      }
      if (c == '(') {
        return tuple(key);
      }
      for (String word : new String[] {"True", "False"}) {
        if (s.startsWith(word, pos) && (pos + word.length() == s.length()
            || !Character.isLetterOrDigit(s.charAt(pos + word.length())))) {
          pos += word.length();
          return word.equals("True");
        }
      }
      throw error("value of '" + key + "' is not a string, True/False or a tuple of integers");
    }

    String string() {
      char quote = s.charAt(pos++);
      StringBuilder b = new StringBuilder();
      while (true) {
        if (pos >= s.length() || s.charAt(pos) == '\n') {
          throw error("unterminated string");
        }
        char c = s.charAt(pos++);
        if (c == quote) {
          return b.toString();
        }
        if (c == '\\') {
          if (pos >= s.length() || "\\'\"".indexOf(s.charAt(pos)) < 0) {
            throw error("unsupported escape in a string");
          }
          c = s.charAt(pos++);
        }
        b.append(c);
      }
    }

    long[] tuple(String key) {
      expect('(');
      List<Long> dims = new ArrayList<>();
      while (!eat(')')) {
        if (dims.size() == Shapes.MAX_RANK) {
          Shapes.checkRank(src + ": .npy header '" + key + "'", new long[Shapes.MAX_RANK + 1]);
        }
        dims.add(integer());
        if (!eat(',')) {
          expect(')');
          break;
        }
        if (dims.size() == 1) {
          skipSpace(); // "(3,)" is a one-tuple
        }
      }
      return dims.stream().mapToLong(Long::longValue).toArray();
    }

    long integer() {
      skipSpace();
      int start = pos;
      boolean negative = eat('-');
      skipSpace();
      int digits = pos;
      while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') {
        pos++;
      }
      if (pos == digits) {
        pos = start;
        throw error("expected an integer");
      }
      String text = s.substring(digits, pos);
      if (pos < s.length() && s.charAt(pos) == 'L') {
        pos++; // Python 2 long literal, written by NumPy under Python 2
      }
      try {
        long v = Long.parseLong(text);
        return negative ? -v : v;
      } catch (NumberFormatException e) {
        pos = start;
        throw error("integer " + text + " out of range");
      }
    }
  }
}
