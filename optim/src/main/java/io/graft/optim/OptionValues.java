package io.graft.optim;

import io.graft.core.GraftException;
import java.util.List;
import java.util.Map;

/** Reading one option back from a saved param group (it may have gone through JSON), for the options records. */
final class OptionValues {
  private OptionValues() {}

  /** The number under {@code key}, or {@code current} when the key is absent. */
  static double number(Map<String, Object> saved, String key, double current) {
    Object v = saved.get(key);
    if (v == null && !saved.containsKey(key)) {
      return current;
    }
    if (!(v instanceof Number n)) {
      throw new GraftException("option '" + key + "' must be a number, got " + v);
    }
    return n.doubleValue();
  }

  /** The flag under {@code key}, or {@code current} when the key is absent. */
  static boolean flag(Map<String, Object> saved, String key, boolean current) {
    Object v = saved.get(key);
    if (v == null && !saved.containsKey(key)) {
      return current;
    }
    if (!(v instanceof Boolean b)) {
      throw new GraftException("option '" + key + "' must be true or false, got " + v);
    }
    return b;
  }

  /** The {@code length} numbers under {@code key} (a {@code double[]} or a list of numbers), or {@code current}. */
  static double[] numbers(Map<String, Object> saved, String key, int length, double[] current) {
    Object v = saved.get(key);
    if (v == null && !saved.containsKey(key)) {
      return current;
    }
    double[] out = null;
    if (v instanceof double[] d) {
      out = d.clone();
    } else if (v instanceof List<?> l && l.stream().allMatch(x -> x instanceof Number)) {
      out = l.stream().mapToDouble(x -> ((Number) x).doubleValue()).toArray();
    }
    if (out == null || out.length != length) {
      throw new GraftException("option '" + key + "' must be a list of " + length + " numbers, got "
          + (v instanceof double[] d ? java.util.Arrays.toString(d) : v));
    }
    return out;
  }
}
