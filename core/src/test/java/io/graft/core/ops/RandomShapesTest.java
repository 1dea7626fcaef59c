package io.graft.core.ops;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.Tensor;
import io.graft.core.ops.LossOps.CrossEntropyOptions;
import io.graft.core.random.Rng;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Random shapes, dtypes and arguments into every public op: each call either works or throws a
 * {@link GraftException}. Nothing may reach native code with a bad shape (that would crash the JVM, failing the
 * run) and no other exception type may escape.
 */
class RandomShapesTest {
  static final DataType[] DTYPES = {DataType.FLOAT, DataType.FLOAT, DataType.DOUBLE, DataType.LONG, DataType.INT};

  final Rng rng = new Rng(20261201);

  int small(int lo, int hi) {
    return lo + rng.nextInt(hi - lo + 1);
  }

  long[] shape() {
    long[] s = new long[small(0, 4)];
    for (int i = 0; i < s.length; i++) {
      s[i] = small(0, 5);
    }
    return s;
  }

  Tensor tensor() {
    long[] s = shape();
    DataType dt = DTYPES[rng.nextInt(DTYPES.length)];
    Tensor t = dt.isFPType() ? Tensor.randn(dt, rng, s) : Tensor.zeros(dt, s);
    t = strided(t);
    return dt.isFPType() && rng.nextInt(2) == 0 ? t.requiresGrad(true) : t;
  }

  /**
   * About two times in three, a non-contiguous view of the same shape: the same values in permuted storage
   * (transposed, channels-last-like) or as every other element of a larger array, or one slice broadcast along a
   * dimension with stride 0 (a few inputs stay contiguous where a view would not be strided).
   */
  Tensor strided(Tensor t) {
    long[] s = t.shape();
    int r = s.length;
    INDArray a = t.data();
    switch (r == 0 || t.numel() == 0 ? 0 : rng.nextInt(6)) {
      case 1, 2 -> { // stored in a permuted order, viewed back in this shape
        int[] p = rng.permutation(r);
        int[] inv = new int[r];
        for (int i = 0; i < r; i++) {
          inv[p[i]] = i;
        }
        return Tensor.of(a.permute(p).dup('c').permute(inv));
      }
      case 3 -> { // every other element along one dimension of a twice-as-large array
        int d = rng.nextInt(r);
        long[] big = s.clone();
        big[d] = 2 * s[d];
        INDArray holder = Nd4j.zeros(a.dataType(), big);
        INDArrayIndex[] idx = new INDArrayIndex[r];
        for (int i = 0; i < r; i++) {
          idx[i] = i == d ? NDArrayIndex.interval(0, 2, big[d]) : NDArrayIndex.all();
        }
        INDArray view = holder.get(idx);
        if (!Arrays.equals(view.shape(), s)) {
          return t; // a length-1 interval comes back as a plain slice: nothing strided to test
        }
        view.assign(a);
        return Tensor.of(view);
      }
      case 4 -> { // a stride-0 broadcast of the first element along one dimension
        int d = rng.nextInt(r);
        long[] one = s.clone();
        one[d] = 1;
        INDArrayIndex[] idx = new INDArrayIndex[r];
        for (int i = 0; i < r; i++) {
          idx[i] = i == d ? NDArrayIndex.interval(0, 1) : NDArrayIndex.all();
        }
        INDArray first = a.get(idx).dup('c').reshape(one);
        long[] stride = first.stride().clone();
        stride[d] = 0;
        return Tensor.of(Nd4j.create(first.data(), s, stride, 0, 'c'));
      }
      default -> {
        return t;
      }
    }
  }

  Object arg(Class<?> type) {
    if (type == Tensor.class) {
      // optional tensors (bias, weights) may be null, but nulls are not what this test is about
      return tensor();
    }
    if (type == Tensor[].class) {
      Tensor[] ts = new Tensor[small(0, 3)];
      for (int i = 0; i < ts.length; i++) {
        ts[i] = tensor();
      }
      return ts;
    }
    if (type == int.class) {
      return small(-3, 6);
    }
    if (type == long.class) {
      return (long) small(-3, 6);
    }
    if (type == int[].class) {
      int[] a = new int[small(0, 4)];
      for (int i = 0; i < a.length; i++) {
        a[i] = small(-2, 4);
      }
      return a;
    }
    if (type == long[].class) {
      long[] a = new long[small(0, 4)];
      for (int i = 0; i < a.length; i++) {
        a[i] = small(-2, 5);
      }
      return a;
    }
    if (type == double.class) {
      double[] v = {0, 0.5, -1, 2.5, Double.NaN, 1e30, 1.5};
      return v[rng.nextInt(v.length)];
    }
    if (type == boolean.class) {
      return rng.nextInt(2) == 0;
    }
    if (type == DataType.class) {
      return DTYPES[rng.nextInt(DTYPES.length)];
    }
    if (type == Rng.class) {
      return new Rng(rng.nextLong());
    }
    if (type == Reduction.class) {
      return Reduction.values()[rng.nextInt(3)];
    }
    if (type == CrossEntropyOptions.class) {
      return CrossEntropyOptions.defaults().withLabelSmoothing(rng.nextInt(2) * 0.1);
    }
    if (type == String.class) {  // mode or option names: valid ones and one that is not
      String[] v = {"row", "batch", "none", "tanh", "bogus"};
      return v[rng.nextInt(v.length)];
    }
    if (type == NormOps.Args.class) {
      return new NormOps.Args(tensor(), tensor(), tensor(), tensor(), rng.nextInt(2) == 0, (double) arg(double.class),
          (double) arg(double.class));
    }
    throw new IllegalStateException("no generator for " + type);
  }

  @Test
  void everyOpWorksOrThrowsAGraftException() throws Exception {
    List<Method> ops = new ArrayList<>();
    for (Class<?> c : OpsGradCheckTest.OP_FAMILIES) {
      for (Method m : c.getDeclaredMethods()) {
        if (Modifier.isPublic(m.getModifiers()) && Modifier.isStatic(m.getModifiers())
            && m.getReturnType() == Tensor.class) {
          ops.add(m);
        }
      }
    }
    ops.sort((a, b) -> (a.getDeclaringClass().getSimpleName() + a).compareTo(b.getDeclaringClass().getSimpleName()
        + b));
    List<String> escapes = new ArrayList<>();
    int calls = 0;
    int ok = 0;
    for (int round = 0; round < 300; round++) {
      for (Method m : ops) {
        Object[] args = Arrays.stream(m.getParameterTypes()).map(this::arg).toArray();
        calls++;
        Throwable thrown = null;
        String stage = "call";
        try {
          Tensor out = (Tensor) m.invoke(null, args);
          stage = "backward";
          if (out != null && out.requiresGrad() && out.numel() > 0) {
            out.sum().backward();
          }
        } catch (InvocationTargetException e) {
          thrown = e.getCause();
        } catch (RuntimeException e) {
          thrown = e;
        }
        if (thrown == null || thrown instanceof GraftException) {
          ok += thrown == null ? 1 : 0;
        } else {
          StackTraceElement at = thrown.getStackTrace().length > 0 ? thrown.getStackTrace()[0] : null;
          escapes.add(m.getDeclaringClass().getSimpleName() + "." + m.getName() + describe(args) + " [" + stage
              + "] -> " + thrown + " at " + at);
        }
      }
    }
    System.out.printf("random-shape calls: %d over %d ops (inputs: 2/3 non-contiguous views), %d succeeded, the rest "
        + "refused with GraftException%n", calls, ops.size(), ok);
    java.util.Map<String, String> firstByKind = new java.util.TreeMap<>();
    for (String e : escapes) {
      String kind = e.substring(0, e.indexOf('(')) + " " + e.substring(e.indexOf("] -> ") + 5).split(":")[0];
      firstByKind.putIfAbsent(kind, e);
    }
    assertTrue(escapes.isEmpty(), escapes.size() + " calls escaped with other exceptions; one per kind:\n  "
        + String.join("\n  ", firstByKind.values()));
  }

  static String describe(Object[] args) {
    StringBuilder sb = new StringBuilder("(");
    for (Object a : args) {
      if (a instanceof Tensor t) {
        sb.append(t.dtype()).append(Arrays.toString(t.shape()));
      } else if (a instanceof int[] i) {
        sb.append(Arrays.toString(i));
      } else if (a instanceof long[] l) {
        sb.append(Arrays.toString(l));
      } else if (a instanceof Tensor[] ts) {
        sb.append(ts.length).append(" tensors");
      } else {
        sb.append(a);
      }
      sb.append(", ");
    }
    return sb.append(')').toString();
  }
}
