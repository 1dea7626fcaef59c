package io.graft.optim.scheduler;

import io.graft.core.GraftException;
import java.util.List;
import java.util.Map;

/** Reading scheduler state maps back (they may have gone through JSON, so numbers arrive as any Number). */
final class States {
  private States() {}

  static void requireType(Map<String, Object> s, String type) {
    if (!type.equals(s.get("type"))) {
      throw new GraftException("scheduler state is for " + s.get("type") + ", cannot load into " + type);
    }
  }

  static Object get(Map<String, Object> s, String key) {
    Object v = s.get(key);
    if (v == null) {
      throw new GraftException("scheduler state of " + s.get("type") + " lacks '" + key + "'");
    }
    return v;
  }

  static int integer(Map<String, Object> s, String key) {
    return ((Number) get(s, key)).intValue();
  }

  static double number(Map<String, Object> s, String key) {
    return ((Number) get(s, key)).doubleValue();
  }

  static double[] doubles(Map<String, Object> s, String key) {
    Object v = get(s, key);
    if (v instanceof double[] d) {
      return d.clone();
    }
    List<?> l = (List<?>) v;
    double[] out = new double[l.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = ((Number) l.get(i)).doubleValue();
    }
    return out;
  }
}
