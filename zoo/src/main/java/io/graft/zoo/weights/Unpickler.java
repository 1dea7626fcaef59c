package io.graft.zoo.weights;

import io.graft.core.GraftException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A restricted unpickler (pickle protocols 0–5) that builds plain Java values and never executes anything: a
 * {@code GLOBAL} outside the whitelist given by the caller is refused on sight, before any object is built —
 * the equivalent of {@code torch.load(weights_only=True)}.
 *
 * <p>Written for Graft rather than taken from {@code net.razorvine:pickle} because that library keeps a global
 * constructor registry (a process-wide side effect for a library embedded in other people's JVMs), builds
 * {@code HashMap}s that lose the state dict's order unless its dispatch is overridden, and would still need a
 * whitelist layered on top; the subset torch needs is about 300 lines.
 *
 * <p>Values: {@code String}, {@code Long}, {@code BigInteger} (huge ints), {@code Double}, {@code Boolean},
 * {@link #NONE}, {@code byte[]}, {@code List} (lists), {@link Tuple}, {@code LinkedHashMap} (dicts, in order),
 * {@link Global} (whitelisted names), and whatever the REDUCE and persistent-id handlers return.
 */
public final class Unpickler {
  /** Python's None (the stack holds no Java nulls). */
  public static final Object NONE = new Object() {
    @Override
    public String toString() {
      return "None";
    }
  };

  /** A Python tuple. */
  public record Tuple(List<Object> items) {
    /** Element {@code i} of the tuple; throws {@code IndexOutOfBoundsException} outside {@code [0, size())}. */
    public Object get(int i) {
      return items.get(i);
    }

    /** The number of elements. */
    public int size() {
      return items.size();
    }
  }

  /** A whitelisted global such as {@code collections.OrderedDict} or {@code torch.FloatStorage}. */
  public record Global(String module, String name) {
    /** {@code module.name}, as Python writes it (e.g. {@code "collections.OrderedDict"}). */
    public String qualified() {
      return module + "." + name;
    }
  }

  /** Callbacks: which globals are allowed, what calling them builds, and how persistent ids resolve. */
  public interface Handler {
    /**
     * Whether the pickle may reference global {@code module.name}; a global not allowed makes the unpickler throw a
     * {@link GraftException} that names it, so no other code is ever referenced.
     */
    boolean allowed(String module, String name);

    /** {@code callable(*args)} for an allowed global. */
    Object reduce(Global callable, Tuple args);

    /** {@code obj.__setstate__(state)} / {@code obj.__dict__.update(state)}; return normally to ignore. */
    default void build(Object obj, Object state) {
      throw new GraftException("pickle BUILD on " + describe(obj) + " is not supported");
    }

    /** The object a persistent id stands for (in a PyTorch checkpoint, a tensor storage). */
    Object persistentLoad(Object pid);
  }

  private static final Object MARK = new Object();
  private static final int MAX_DEPTH = 100_000;

  private final ByteBuffer in;
  private final String source;
  private final Handler handler;
  private final ArrayList<Object> stack = new ArrayList<>();
  private final ArrayList<Integer> marks = new ArrayList<>();
  private final Map<Long, Object> memo = new HashMap<>();

  private Unpickler(ByteBuffer in, String source, Handler handler) {
    this.in = in.order(ByteOrder.LITTLE_ENDIAN);
    this.source = source;
    this.handler = handler;
  }

  /** Reads one pickle from {@code in} (advancing its position past STOP). */
  public static Object load(ByteBuffer in, String source, Handler handler) {
    return new Unpickler(in, source, handler).run();
  }

  private GraftException error(String msg) {
    return new GraftException(source + ": " + msg + " (pickle offset " + in.position() + ")");
  }

  private void need(long n) {
    if (n < 0 || n > in.remaining()) {
      throw error("truncated pickle: needs " + n + " more bytes, " + in.remaining() + " left");
    }
  }

  private int u8() {
    need(1);
    return in.get() & 0xFF;
  }

  private long u32() {
    need(4);
    return in.getInt() & 0xFFFFFFFFL;
  }

  private long i64() {
    need(8);
    return in.getLong();
  }

  private byte[] bytes(long n) {
    need(n);
    byte[] b = new byte[(int) n];
    in.get(b);
    return b;
  }

  private String line() {
    StringBuilder sb = new StringBuilder();
    while (true) {
      int c = u8();
      if (c == '\n') {
        return sb.toString();
      }
      sb.append((char) c);
      if (sb.length() > 4096) {
        throw error("text opcode line longer than 4096 bytes");
      }
    }
  }

  private void push(Object o) {
    if (stack.size() > MAX_DEPTH) {
      throw error("pickle stack deeper than " + MAX_DEPTH);
    }
    stack.add(o);
  }

  private Object pop() {
    if (stack.isEmpty() || stack.get(stack.size() - 1) == MARK) {
      throw error("pickle stack underflow");
    }
    return stack.remove(stack.size() - 1);
  }

  private Object top() {
    if (stack.isEmpty() || stack.get(stack.size() - 1) == MARK) {
      throw error("pickle stack underflow");
    }
    return stack.get(stack.size() - 1);
  }

  private List<Object> popMark() {
    if (marks.isEmpty()) {
      throw error("pickle has no MARK to pop to");
    }
    int m = marks.remove(marks.size() - 1);
    if (m > stack.size() || stack.get(m) != MARK) {
      throw error("corrupt MARK");
    }
    List<Object> items = new ArrayList<>(stack.subList(m + 1, stack.size()));
    stack.subList(m, stack.size()).clear();
    return items;
  }

  private Object global(String module, String name) {
    if (!handler.allowed(module, name)) {
      throw new GraftException(source + ": refusing to load: the pickle references " + module + "." + name
          + ", which is not part of a tensor state dict. Graft only reads weights and never runs code from a file "
          + "(like torch.load(weights_only=True)); if this is a whole pickled model, save model.state_dict() instead");
    }
    return new Global(module, name);
  }

  @SuppressWarnings("unchecked")
  private Object run() {
    while (true) {
      int op = u8();
      switch (op) {
        case 0x80 -> u8(); // PROTO
        case 0x95 -> i64(); // FRAME
        case '.' -> {
          Object result = pop();
          return result;
        }
        case '(' -> {
          marks.add(stack.size());
          stack.add(MARK);
        }
        case '0' -> pop();
        case '1' -> popMark();
        case '2' -> push(top());
        case 'N' -> push(NONE);
        case 0x88 -> push(Boolean.TRUE);
        case 0x89 -> push(Boolean.FALSE);
        case 'J' -> {
          need(4);
          push((long) in.getInt());
        }
        case 'K' -> push((long) u8());
        case 'M' -> {
          need(2);
          push((long) (in.getShort() & 0xFFFF));
        }
        case 0x8a -> push(longFrom(bytes(u8())));
        case 0x8b -> {
          long n = u32();
          if (n > 1 << 16) {
            throw error("LONG4 of " + n + " bytes");
          }
          push(longFrom(bytes(n)));
        }
        case 'I' -> {
          String s = line();
          push(switch (s) {
            case "01" -> Boolean.TRUE;
            case "00" -> Boolean.FALSE;
            default -> parseLong(s);
          });
        }
        case 'L' -> {
          String s = line();
          push(parseLong(s.endsWith("L") ? s.substring(0, s.length() - 1) : s));
        }
        case 'G' -> {
          need(8);
          push(Double.longBitsToDouble(Long.reverseBytes(in.getLong())));
        }
        case 'F' -> {
          String s = line();
          try {
            push(Double.parseDouble(s));
          } catch (NumberFormatException e) {
            throw error("bad FLOAT '" + s + "'");
          }
        }
        case 'X' -> push(new String(bytes(u32()), StandardCharsets.UTF_8));
        case 0x8c -> push(new String(bytes(u8()), StandardCharsets.UTF_8));
        case 0x8d -> push(new String(bytes(i64()), StandardCharsets.UTF_8));
        case 'V' -> push(line());
        case 'T' -> push(new String(bytes(u32()), StandardCharsets.ISO_8859_1));
        case 'U' -> push(new String(bytes(u8()), StandardCharsets.ISO_8859_1));
        case 'B' -> push(bytes(u32()));
        case 'C' -> push(bytes(u8()));
        case 0x8e -> push(bytes(i64()));
        case ')' -> push(new Tuple(List.of()));
        case 't' -> push(new Tuple(popMark()));
        case 0x85 -> push(new Tuple(List.of(pop())));
        case 0x86 -> {
          Object b = pop();
          Object a = pop();
          push(new Tuple(List.of(a, b)));
        }
        case 0x87 -> {
          Object c = pop();
          Object b = pop();
          Object a = pop();
          push(new Tuple(List.of(a, b, c)));
        }
        case ']' -> push(new ArrayList<>());
        case 'l' -> push(new ArrayList<>(popMark()));
        case 'a' -> {
          Object v = pop();
          asList(top()).add(v);
        }
        case 'e' -> {
          List<Object> items = popMark();
          asList(top()).addAll(items);
        }
        case '}' -> push(new LinkedHashMap<>());
        case 'd' -> {
          List<Object> items = popMark();
          Map<Object, Object> m = new LinkedHashMap<>();
          putAll(m, items);
          push(m);
        }
        case 's' -> {
          Object v = pop();
          Object k = pop();
          asMap(top()).put(key(k), v);
        }
        case 'u' -> {
          List<Object> items = popMark();
          putAll(asMap(top()), items);
        }
        case 0x8f -> push(new ArrayList<>()); // EMPTY_SET (as a list)
        case 0x90 -> {
          List<Object> items = popMark();
          asList(top()).addAll(items);
        }
        case 0x91 -> push(new ArrayList<>(popMark())); // FROZENSET
        case 'c' -> {
          String module = line();
          String name = line();
          push(global(module, name));
        }
        case 0x93 -> {
          Object name = pop();
          Object module = pop();
          if (!(module instanceof String m) || !(name instanceof String n)) {
            throw error("STACK_GLOBAL needs two strings");
          }
          push(global(m, n));
        }
        case 'R' -> {
          Object args = pop();
          Object callable = pop();
          if (!(callable instanceof Global g)) {
            throw error("REDUCE on " + describe(callable) + ", not a whitelisted global");
          }
          if (!(args instanceof Tuple t)) {
            throw error("REDUCE arguments are " + describe(args) + ", not a tuple");
          }
          push(handler.reduce(g, t));
        }
        case 0x81 -> {
          Object args = pop();
          Object cls = pop();
          throw error("NEWOBJ of " + describe(cls) + " is not allowed in a state dict");
        }
        case 0x92 -> throw error("NEWOBJ_EX is not allowed in a state dict");
        case 'b' -> {
          Object state = pop();
          handler.build(top(), state);
        }
        case 'Q' -> push(handler.persistentLoad(pop()));
        case 'P' -> push(handler.persistentLoad(line()));
        case 'q' -> memo.put((long) u8(), top());
        case 'r' -> memo.put(u32(), top());
        case 0x94 -> memo.put((long) memo.size(), top());
        case 'p' -> memo.put(parseLong(line()), top());
        case 'h' -> push(memoGet(u8()));
        case 'j' -> push(memoGet(u32()));
        case 'g' -> push(memoGet(parseLong(line())));
        default -> throw error(String.format("unsupported pickle opcode 0x%02x", op));
      }
    }
  }

  /**
   * A dict key must be hashable as in Python: a scalar, or a shallow tuple of scalars. (A list or dict key — which
   * Python itself would refuse — could nest deep enough to overflow the stack when hashed.)
   */
  private Object key(Object k) {
    if (hashable(k, 0)) {
      return k;
    }
    throw error("unhashable dict key (" + describe(k) + ")");
  }

  private static boolean hashable(Object k, int depth) {
    if (k instanceof String || k instanceof Long || k instanceof BigInteger || k instanceof Double
        || k instanceof Boolean || k == NONE || k instanceof Global) {
      return true;
    }
    if (k instanceof Tuple t && depth < 8) {
      for (Object o : t.items()) {
        if (!hashable(o, depth + 1)) {
          return false;
        }
      }
      return true;
    }
    return false;
  }

  private Object memoGet(long key) {
    Object v = memo.get(key);
    if (v == null) {
      throw error("memo key " + key + " is not defined");
    }
    return v;
  }

  private long parseLong(String s) {
    try {
      return Long.parseLong(s.trim());
    } catch (NumberFormatException e) {
      throw error("bad integer '" + s + "'");
    }
  }

  private static Object longFrom(byte[] le) {
    if (le.length == 0) {
      return 0L;
    }
    byte[] be = new byte[le.length];
    for (int i = 0; i < le.length; i++) {
      be[i] = le[le.length - 1 - i];
    }
    BigInteger v = new BigInteger(be);
    return v.bitLength() < 64 ? (Object) v.longValue() : v;
  }

  @SuppressWarnings("unchecked")
  private List<Object> asList(Object o) {
    if (!(o instanceof List<?>)) {
      throw error("APPEND to " + describe(o) + ", not a list");
    }
    return (List<Object>) o;
  }

  @SuppressWarnings("unchecked")
  private Map<Object, Object> asMap(Object o) {
    if (!(o instanceof Map<?, ?>)) {
      throw error("SETITEM on " + describe(o) + ", not a dict");
    }
    return (Map<Object, Object>) o;
  }

  private void putAll(Map<Object, Object> m, List<Object> items) {
    if (items.size() % 2 != 0) {
      throw error("odd number of items for a dict");
    }
    for (int i = 0; i < items.size(); i += 2) {
      m.put(key(items.get(i)), items.get(i + 1));
    }
  }

  static String describe(Object o) {
    if (o == null) {
      return "null";
    }
    if (o instanceof Global g) {
      return g.qualified();
    }
    return o.getClass().getSimpleName();
  }
}
