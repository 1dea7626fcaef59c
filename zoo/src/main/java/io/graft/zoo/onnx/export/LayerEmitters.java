package io.graft.zoo.onnx.export;

import static io.graft.zoo.onnx.export.Emission.join;
import static io.graft.zoo.onnx.export.ExportGraph.f;
import static io.graft.zoo.onnx.export.ExportGraph.i;
import static io.graft.zoo.onnx.export.ExportGraph.ints;

import io.graft.core.GraftException;
import io.graft.core.ShapeException;
import io.graft.layers.Dropout;
import io.graft.layers.Flatten;
import io.graft.layers.Identity;
import io.graft.layers.Linear;
import io.graft.layers.Module;
import io.graft.layers.Sequential;
import io.graft.layers.activation.LeakyReLU;
import io.graft.layers.activation.ReLU;
import io.graft.layers.activation.ReLU6;
import io.graft.layers.activation.SiLU;
import io.graft.layers.activation.Sigmoid;
import io.graft.layers.activation.Tanh;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.norm.BatchNorm;
import io.graft.layers.norm.BatchNorm1d;
import io.graft.layers.norm.BatchNorm2d;
import io.graft.layers.pool.AdaptiveAvgPool2d;
import io.graft.layers.pool.AvgPool2d;
import io.graft.layers.pool.MaxPool2d;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The emitters for Graft's layers, one per layer type, in eval mode (PyTorch's {@code model.eval()} semantics): Conv2d
 * → Conv, BatchNorm1d/2d → BatchNormalization with the running statistics, ReLU → Relu, ReLU6 → Clip(0, 6), LeakyReLU →
 * LeakyRelu, Sigmoid, Tanh, SiLU → x·Sigmoid(x), MaxPool2d → MaxPool, AvgPool2d → AveragePool, AdaptiveAvgPool2d →
 * GlobalAveragePool (1×1), AveragePool (sizes that divide) or two MatMuls with constant averaging matrices (any other
 * size; each at most {@link #MAX_AVERAGING_ELEMENTS} elements), Linear → Gemm (2-D input), Flatten(1, -1) → Flatten,
 * Dropout and Identity → nothing, Sequential → its children in order.
 *
 * <p>Each layer's settings come from its PyTorch-named getters ({@code kernelSize()}, {@code options().eps()}, ...).
 */
final class LayerEmitters {
  private LayerEmitters() {}

  static void register(Map<Class<?>, Emitter<?>> m) {
    m.put(Sequential.class, (Emitter<Sequential>) LayerEmitters::sequential);
    m.put(Conv2d.class, (Emitter<Conv2d>) LayerEmitters::conv);
    m.put(BatchNorm2d.class, (Emitter<BatchNorm2d>) LayerEmitters::batchNorm);
    m.put(BatchNorm1d.class, (Emitter<BatchNorm1d>) LayerEmitters::batchNorm);
    m.put(ReLU.class, (Emitter<ReLU>) (e, p, mod, x) -> unary(e, p, "Relu", x));
    m.put(Sigmoid.class, (Emitter<Sigmoid>) (e, p, mod, x) -> unary(e, p, "Sigmoid", x));
    m.put(Tanh.class, (Emitter<Tanh>) (e, p, mod, x) -> unary(e, p, "Tanh", x));
    m.put(ReLU6.class, (Emitter<ReLU6>) LayerEmitters::relu6);
    m.put(LeakyReLU.class, (Emitter<LeakyReLU>) LayerEmitters::leakyRelu);
    m.put(SiLU.class, (Emitter<SiLU>) LayerEmitters::silu);
    m.put(MaxPool2d.class, (Emitter<MaxPool2d>) LayerEmitters::maxPool);
    m.put(AvgPool2d.class, (Emitter<AvgPool2d>) LayerEmitters::avgPool);
    m.put(AdaptiveAvgPool2d.class, (Emitter<AdaptiveAvgPool2d>) LayerEmitters::adaptiveAvgPool);
    m.put(Linear.class, (Emitter<Linear>) LayerEmitters::linear);
    m.put(Flatten.class, (Emitter<Flatten>) LayerEmitters::flatten);
    m.put(Dropout.class, (Emitter<Dropout>) (e, p, mod, x) -> x);
    m.put(Identity.class, (Emitter<Identity>) (e, p, mod, x) -> x);
  }

  private static String sequential(Emission e, String path, Sequential s, String x) {
    for (Map.Entry<String, Module> c : s.namedChildren().entrySet()) {
      x = e.emit(join(path, c.getKey()), c.getValue(), x);
    }
    return x;
  }

  private static long[] requireRank(Emission e, String path, Module m, String x, int rank) {
    long[] s = e.graph().shape(x);
    if (s.length != rank) {
      throw ShapeException.of("export " + path + " (" + m.typeName() + ")", "expected input of rank " + rank, s);
    }
    return s;
  }

  private static String conv(Emission e, String path, Conv2d c, String x) {
    long[] s = requireRank(e, path, c, x, 4);
    Conv2d.Options o = c.options();
    long[] w = c.weight().shape();
    if (s[1] != c.inChannels()) {
      throw ShapeException.of("export " + path + " (Conv2d)", "expected " + c.inChannels() + " input channels", s);
    }
    long h = window(path, s[2], w[2], o.strideH(), o.padH(), o.dilationH());
    long wd = window(path, s[3], w[3], o.strideW(), o.padW(), o.dilationW());
    List<String> in = new ArrayList<>(List.of(x, e.graph().addInitializer(join(path, "weight"), c.weight())));
    if (c.bias() != null) {
      in.add(e.graph().addInitializer(join(path, "bias"), c.bias()));
    }
    return e.graph().node("Conv", path, new long[] {s[0], c.outChannels(), h, wd}, in,
        ints("kernel_shape", w[2], w[3]), ints("strides", o.strideH(), o.strideW()),
        ints("pads", o.padH(), o.padW(), o.padH(), o.padW()), ints("dilations", o.dilationH(), o.dilationW()),
        i("group", o.groups()));
  }

  /** PyTorch's output size of a sliding window (floor mode). */
  private static long window(String path, long size, long kernel, long stride, long pad, long dilation) {
    long span = dilation * (kernel - 1) + 1;
    long padded = size + 2 * pad;
    if (padded < span) {
      throw ShapeException.of("export " + path, "the example input is too small: a window of " + span + " over "
          + padded + " padded positions", new long[] {size});
    }
    return (padded - span) / stride + 1;
  }

  private static String batchNorm(Emission e, String path, BatchNorm bn, String x) {
    long[] s = e.graph().shape(x);
    if (s.length < 2 || s[1] != bn.numFeatures()) {
      throw ShapeException.of("export " + path + " (" + bn.typeName() + ")", "expected " + bn.numFeatures()
          + " channels in dimension 1", s);
    }
    if (bn.runningMean() == null || bn.runningVar() == null) {
      throw new GraftException("export: module '" + path + "' (" + bn.typeName() + ") keeps no running statistics "
          + "(track_running_stats=False), so it normalises with batch statistics even in eval mode; ONNX inference "
          + "graphs have no such normalisation");
    }
    ExportGraph g = e.graph();
    int n = bn.numFeatures();
    String scale;
    String bias;
    if (bn.weight() != null) {
      scale = g.addInitializer(join(path, "weight"), bn.weight());
      bias = g.addInitializer(join(path, "bias"), bn.bias());
    } else {
      float[] ones = new float[n];
      java.util.Arrays.fill(ones, 1f);
      scale = g.addConstant(join(path, "unit_scale"), ones, n);
      bias = g.addConstant(join(path, "zero_bias"), new float[n], n);
    }
    String mean = g.addInitializer(join(path, "running_mean"), bn.runningMean());
    String var = g.addInitializer(join(path, "running_var"), bn.runningVar());
    return g.node("BatchNormalization", path, s, List.of(x, scale, bias, mean, var),
        f("epsilon", (float) bn.options().eps()));
  }

  private static String unary(Emission e, String path, String op, String x) {
    return e.graph().node(op, path, e.graph().shape(x), List.of(x));
  }

  private static String relu6(Emission e, String path, ReLU6 m, String x) {
    ExportGraph g = e.graph();
    return g.node("Clip", path, g.shape(x), List.of(x, g.scalar("relu6.min", 0f), g.scalar("relu6.max", 6f)));
  }

  private static String leakyRelu(Emission e, String path, LeakyReLU m, String x) {
    return e.graph().node("LeakyRelu", path, e.graph().shape(x), List.of(x),
        f("alpha", (float) m.negativeSlope()));
  }

  private static String silu(Emission e, String path, SiLU m, String x) {
    String sig = unary(e, join(path, "sigmoid"), "Sigmoid", x);
    return e.graph().node("Mul", path, e.graph().shape(x), List.of(x, sig));
  }

  private static String maxPool(Emission e, String path, MaxPool2d m, String x) {
    long[] s = requireRank(e, path, m, x, 4);
    int k = m.kernelSize();
    int st = m.stride();
    int pad = m.padding();
    int d = m.dilation();
    long[] out = {s[0], s[1], window(path, s[2], k, st, pad, d), window(path, s[3], k, st, pad, d)};
    return e.graph().node("MaxPool", path, out, List.of(x), ints("kernel_shape", k, k), ints("strides", st, st),
        ints("pads", pad, pad, pad, pad), ints("dilations", d, d));
  }

  private static String avgPool(Emission e, String path, AvgPool2d m, String x) {
    long[] s = requireRank(e, path, m, x, 4);
    int k = m.kernelSize();
    int st = m.stride();
    int pad = m.padding();
    boolean include = m.countIncludePad();
    long[] out = {s[0], s[1], window(path, s[2], k, st, pad, 1), window(path, s[3], k, st, pad, 1)};
    return e.graph().node("AveragePool", path, out, List.of(x), ints("kernel_shape", k, k), ints("strides", st, st),
        ints("pads", pad, pad, pad, pad), i("count_include_pad", include ? 1 : 0));
  }

  /** Elements an adaptive pooling's constant averaging matrix may have (64 MiB of float32). */
  static final long MAX_AVERAGING_ELEMENTS = 1L << 24;

  /**
   * PyTorch's adaptive average pooling: output cell i averages input rows floor(i·H/oh) to ceil((i+1)·H/oh) - 1
   * (and likewise for columns). Global pooling is size-independent; any other output size is written for the
   * example input's size only.
   */
  private static String adaptiveAvgPool(Emission e, String path, AdaptiveAvgPool2d m, String x) {
    long[] s = requireRank(e, path, m, x, 4);
    int oh = m.outputSize()[0];
    int ow = m.outputSize()[1];
    ExportGraph g = e.graph();
    long[] out = {s[0], s[1], oh, ow};
    String y;
    if (oh == 1 && ow == 1) {
      y = g.node("GlobalAveragePool", path, out, List.of(x));
    } else if (s[2] % oh == 0 && s[3] % ow == 0) {
      g.fixSpatialSize();
      long kh = s[2] / oh;
      long kw = s[3] / ow;
      y = g.node("AveragePool", path, out, List.of(x), ints("kernel_shape", kh, kw), ints("strides", kh, kw));
    } else {
      if ((long) oh * s[2] > MAX_AVERAGING_ELEMENTS || (long) ow * s[3] > MAX_AVERAGING_ELEMENTS) {
        throw ShapeException.of("export " + path + " (AdaptiveAvgPool2d)", "adaptive pooling to " + oh + "x" + ow
            + " would need an averaging matrix of more than " + MAX_AVERAGING_ELEMENTS + " elements", s);
      }
      g.fixSpatialSize();
      // rows: [oh, H] @ x[N, C, H, W] -> [N, C, oh, W]; columns: that @ [W, ow] -> [N, C, oh, ow]
      String rows = g.addConstant(join(path, "row_weights"), averaging(oh, (int) s[2], false), oh, s[2]);
      String cols = g.addConstant(join(path, "column_weights"), averaging(ow, (int) s[3], true), s[3], ow);
      String r = g.node("MatMul", join(path, "rows"), new long[] {s[0], s[1], oh, s[3]}, List.of(rows, x));
      y = g.node("MatMul", path, out, List.of(r, cols));
    }
    g.markSizeIndependent(y);
    return y;
  }

  /** The [out, in] matrix (or its transpose) whose row i averages input positions floor(i·in/out) .. ceil(...). */
  static float[] averaging(int out, int in, boolean transposed) {
    float[] w = new float[out * in];
    for (int o = 0; o < out; o++) {
      int start = (int) Math.floorDiv((long) o * in, out);
      int end = (int) -Math.floorDiv(-(long) (o + 1) * in, out);
      for (int k = start; k < end; k++) {
        w[transposed ? k * out + o : o * in + k] = 1f / (end - start);
      }
    }
    return w;
  }

  private static String linear(Emission e, String path, Linear l, String x) {
    ExportGraph g = e.graph();
    long[] s = g.shape(x);
    if (s.length != 2 || s[1] != l.inFeatures()) {
      throw ShapeException.of("export " + path + " (Linear)", "expected input [N, " + l.inFeatures() + "]", s);
    }
    List<String> in = new ArrayList<>(List.of(x, g.addInitializer(join(path, "weight"), l.weight())));
    if (l.bias() != null) {
      in.add(g.addInitializer(join(path, "bias"), l.bias()));
    }
    String y = g.node("Gemm", path, new long[] {s[0], l.outFeatures()}, in, i("transB", 1));
    g.markSizeIndependent(y);
    return y;
  }

  private static String flatten(Emission e, String path, Flatten m, String x) {
    if (m.startDim() != 1 || m.endDim() != -1) {
      throw new GraftException("export: module '" + path + "' is " + m + "; only Flatten(start_dim=1, end_dim=-1) "
          + "has an ONNX Flatten");
    }
    return e.flatten(path, x);
  }
}
