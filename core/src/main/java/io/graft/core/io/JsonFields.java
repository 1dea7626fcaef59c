package io.graft.core.io;

import io.graft.core.GraftException;
import java.util.List;
import java.util.Map;

/**
 * Typed, checked reads from a map that came back from JSON (a checkpoint's metadata, a scheduler's or optimizer's
 * saved state). The file may have been edited by hand or written by someone else, so every read checks presence,
 * type and range, and a failure is a {@link GraftException} naming {@code where} and the field, never a
 * {@code ClassCastException} or {@code NullPointerException} from deep inside a loader.
 *
 * <p>Numbers arrive as any {@link Number}; a non-finite double arrives as the string {@code "NaN"},
 * {@code "Infinity"} or {@code "-Infinity"}, which is what Jackson writes for one by default.
 */
public final class JsonFields {
  private JsonFields() {}

  /** The value of {@code key}, which must be present and not null. */
  public static Object get(Map<String, ?> m, String key, String where) {
    Object v = m.get(key);
    if (v == null) {
      throw new GraftException(where + ": field '" + key + "' is missing");
    }
    return v;
  }

  /** An integer in {@code [min, max]}; a number with a fraction, or out of range, is refused. */
  public static long integer(Map<String, ?> m, String key, long min, long max, String where) {
    return integer(get(m, key, where), key, min, max, where);
  }

  /** {@link #integer(Map, String, long, long, String)} for a value already taken out of its map or list. */
  public static long integer(Object v, String key, long min, long max, String where) {
    long n;
    if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
      n = ((Number) v).longValue();
    } else if (v instanceof java.math.BigInteger b) {
      if (b.bitLength() > 63) {
        throw new GraftException(where + ": field '" + key + "' = " + b + " is out of range [" + min + ", " + max
            + "]");
      }
      n = b.longValue();
    } else {
      throw new GraftException(where + ": field '" + key + "' must be an integer, got " + describe(v));
    }
    if (n < min || n > max) {
      throw new GraftException(where + ": field '" + key + "' = " + n + " is out of range [" + min + ", " + max + "]");
    }
    return n;
  }

  /** An int in {@code [min, max]}. */
  public static int int32(Map<String, ?> m, String key, int min, int max, String where) {
    return (int) integer(m, key, min, max, where);
  }

  /** A double; non-finite values allowed only when {@code finite} is false. */
  public static double number(Map<String, ?> m, String key, boolean finite, String where) {
    return number(get(m, key, where), key, finite, where);
  }

  /** A double, or {@code dflt} when the field is absent or null. */
  public static double numberOr(Map<String, ?> m, String key, double dflt, String where) {
    Object v = m.get(key);
    return v == null ? dflt : number(v, key, false, where);
  }

  /** {@link #number(Map, String, boolean, String)} for a value already taken out of its map or list. */
  public static double number(Object v, String key, boolean finite, String where) {
    double d;
    if (v instanceof Number n) {
      d = n.doubleValue();
    } else if (v instanceof String s && (s.equals("NaN") || s.equals("Infinity") || s.equals("-Infinity"))) {
      d = Double.parseDouble(s);
    } else {
      throw new GraftException(where + ": field '" + key + "' must be a number, got " + describe(v));
    }
    if (finite && !Double.isFinite(d)) {
      throw new GraftException(where + ": field '" + key + "' must be finite, got " + d);
    }
    return d;
  }

  /**
   * A required boolean field; throws {@link GraftException} naming {@code where} and {@code key} if it is missing or
   * not {@code true}/{@code false}.
   */
  public static boolean bool(Map<String, ?> m, String key, String where) {
    Object v = get(m, key, where);
    if (!(v instanceof Boolean b)) {
      throw new GraftException(where + ": field '" + key + "' must be true or false, got " + describe(v));
    }
    return b;
  }

  /** A boolean, or {@code dflt} when absent. */
  public static boolean boolOr(Map<String, ?> m, String key, boolean dflt, String where) {
    return m.get(key) == null ? dflt : bool(m, key, where);
  }

  /**
   * A required string field; throws {@link GraftException} naming {@code where} and {@code key} if it is missing or not
   * a string.
   */
  public static String string(Map<String, ?> m, String key, String where) {
    Object v = get(m, key, where);
    if (!(v instanceof String s)) {
      throw new GraftException(where + ": field '" + key + "' must be a string, got " + describe(v));
    }
    return s;
  }

  /**
   * A required list field; throws {@link GraftException} naming {@code where} and {@code key} if it is missing or not a
   * list.
   */
  public static List<?> list(Map<String, ?> m, String key, String where) {
    return list(get(m, key, where), key, where);
  }

  /** {@code v} as a list; throws {@link GraftException} naming {@code where} and {@code key} if it is not one. */
  public static List<?> list(Object v, String key, String where) {
    if (!(v instanceof List<?> l)) {
      throw new GraftException(where + ": field '" + key + "' must be a list, got " + describe(v));
    }
    return l;
  }

  /** A JSON object with string keys. */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> map(Object v, String key, String where) {
    if (!(v instanceof Map<?, ?> m)) {
      throw new GraftException(where + ": field '" + key + "' must be an object, got " + describe(v));
    }
    for (Object k : m.keySet()) {
      if (!(k instanceof String)) {
        throw new GraftException(where + ": field '" + key + "' has a key that is not a string: " + k);
      }
    }
    return (Map<String, Object>) m;
  }

  /**
   * A required JSON object field with string keys; throws {@link GraftException} naming {@code where} and {@code key}
   * otherwise.
   */
  public static Map<String, Object> map(Map<String, ?> m, String key, String where) {
    return map(get(m, key, where), key, where);
  }

  /** A list of numbers (non-finite allowed). */
  public static double[] doubles(Object v, String key, String where) {
    if (v instanceof double[] d) {
      return d.clone();
    }
    List<?> l = list(v, key, where);
    double[] out = new double[l.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = number(l.get(i), key + "[" + i + "]", false, where);
    }
    return out;
  }

  /**
   * A required list-of-numbers field (non-finite allowed); throws {@link GraftException} naming the element at fault.
   */
  public static double[] doubles(Map<String, ?> m, String key, String where) {
    return doubles(get(m, key, where), key, where);
  }

  /** A short description of a value for messages: its JSON kind and, for scalars, the value (clipped). */
  static String describe(Object v) {
    if (v == null) {
      return "null";
    }
    if (v instanceof Map<?, ?>) {
      return "an object";
    }
    if (v instanceof List<?>) {
      return "a list";
    }
    String s = v instanceof String ? "\"" + v + "\"" : String.valueOf(v);
    return s.length() > 60 ? s.substring(0, 60) + "..." : s;
  }
}
