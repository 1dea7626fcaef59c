package io.graft.optim.scheduler;

import io.graft.core.GraftException;
import io.graft.core.io.JsonFields;
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
    return JsonFields.get(s, key, where(s));
  }

  static int integer(Map<String, Object> s, String key) {
    return JsonFields.int32(s, key, Integer.MIN_VALUE, Integer.MAX_VALUE, where(s));
  }

  static double number(Map<String, Object> s, String key) {
    return JsonFields.number(s, key, false, where(s));
  }

  static double[] doubles(Map<String, Object> s, String key) {
    return JsonFields.doubles(s, key, where(s));
  }

  private static String where(Map<String, Object> s) {
    return "scheduler state of " + s.get("type");
  }
}
