package io.graft.core.ops;

import io.graft.core.Tensor;
import io.graft.core.ops.LossOps.CrossEntropyOptions;
import io.graft.core.random.Rng;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The registry of op samples for the float64 finite-difference gradient check (in the style of PyTorch's
 * OpInfo). Every public op method of {@code io.graft.core.ops} must have at least one sample
 * ({@link OpsGradCheckTest#everyOpHasAGradCheckSample}). Inputs stay away from kinks (ReLU at 0, ties in
 * max-pool and max).
 */
final class OpSamples {
  /** {@code op} is the name of the method under test; {@code f} must be deterministic. */
  record Sample(String op, String name, Function<Tensor[], Tensor> f, Tensor... inputs) {
    @Override
    public String toString() {
      return op + ": " + name;
    }
  }

  private static final Rng RNG = new Rng(2024);

  static Tensor randn(long... s) {
    return Tensor.randn(DataType.DOUBLE, RNG, s).requiresGrad(true);
  }

  static Tensor positive(long... s) {
    return Tensor.rand(DataType.DOUBLE, RNG, s).mul(2).add(0.5).detach().requiresGrad(true);
  }

  /** Values with no two closer than 0.1 (a shuffled arange), so max/min and pooling have no ties. */
  static Tensor distinct(long... s) {
    int n = 1;
    for (long d : s) {
      n *= (int) d;
    }
    int[] p = RNG.permutation(n);
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = (p[i] - n / 2.0) * 0.1;
    }
    return Tensor.fromArray(v, s).requiresGrad(true);
  }

  /** Normal samples pushed at least 0.1 away from 0 (for ReLU-like kinks and |x|). */
  static Tensor away(long... s) {
    double[] v = Tensor.randn(DataType.DOUBLE, RNG, s).toDoubleArray();
    for (int i = 0; i < v.length; i++) {
      v[i] = v[i] >= 0 ? v[i] + 0.1 : v[i] - 0.1;
    }
    return Tensor.fromArray(v, s).requiresGrad(true);
  }

  static Tensor labels(long n, int c) {
    long[] t = new long[(int) n];
    for (int i = 0; i < n; i++) {
      t[i] = RNG.nextInt(c);
    }
    return Tensor.fromArray(t, n);
  }

  static Tensor constant(Tensor t) {
    return t.detach();
  }

  static int[] p(int a, int b) {
    return new int[] {a, b};
  }

  static List<Sample> all() {
    List<Sample> s = new ArrayList<>();
    // elementwise
    s.add(new Sample("add", "broadcast both ways", in -> ElementwiseOps.add(in[0], in[1]), randn(4, 1, 3), randn(2, 1)));
    s.add(new Sample("add", "scalar", in -> ElementwiseOps.add(in[0], 1.5), randn(3, 4)));
    s.add(new Sample("sub", "broadcast", in -> ElementwiseOps.sub(in[0], in[1]), randn(2, 3, 4), randn(4)));
    s.add(new Sample("mul", "broadcast", in -> ElementwiseOps.mul(in[0], in[1]), randn(2, 3, 1), randn(1, 3, 5)));
    s.add(new Sample("mul", "scalar", in -> ElementwiseOps.mul(in[0], -2.0), randn(3, 4)));
    s.add(new Sample("mul", "same tensor twice", in -> ElementwiseOps.mul(in[0], in[0]), randn(3, 4)));
    s.add(new Sample("div", "broadcast", in -> ElementwiseOps.div(in[0], in[1]), randn(3, 4), positive(4)));
    s.add(new Sample("div", "broadcast both ways", in -> ElementwiseOps.div(in[0], in[1]), randn(3, 1), positive(1, 4)));
    s.add(new Sample("neg", "2-D", in -> ElementwiseOps.neg(in[0]), randn(3, 4)));
    s.add(new Sample("pow", "fractional", in -> ElementwiseOps.pow(in[0], 2.5), positive(3, 4)));
    s.add(new Sample("pow", "negative", in -> ElementwiseOps.pow(in[0], -1.5), positive(3, 4)));
    s.add(new Sample("exp", "2-D", in -> ElementwiseOps.exp(in[0]), randn(3, 4)));
    s.add(new Sample("log", "positive", in -> ElementwiseOps.log(in[0]), positive(3, 4)));
    s.add(new Sample("sqrt", "positive", in -> ElementwiseOps.sqrt(in[0]), positive(3, 4)));
    s.add(new Sample("abs", "away from 0", in -> ElementwiseOps.abs(in[0]), away(3, 4)));
    s.add(new Sample("clamp", "both bounds", in -> ElementwiseOps.clamp(in[0], -0.55, 0.45), distinct(4, 5)));
    s.add(new Sample("cast", "float64 to float64 round trip through float64", in ->
        ElementwiseOps.cast(ElementwiseOps.mul(in[0], 2.0), DataType.DOUBLE), randn(3, 2)));
    // activations
    s.add(new Sample("relu", "away from 0", in -> ActivationOps.relu(in[0]), away(4, 5)));
    s.add(new Sample("relu6", "spanning both kinks", in -> ActivationOps.relu6(ElementwiseOps.add(ElementwiseOps.mul(in[0], 4.0), 0.13)),
        distinct(5, 6)));
    s.add(new Sample("leakyRelu", "slope 0.2", in -> ActivationOps.leakyRelu(in[0], 0.2), away(4, 5)));
    s.add(new Sample("gelu", "exact", in -> ActivationOps.gelu(in[0]), randn(4, 5)));
    s.add(new Sample("silu", "2-D", in -> ActivationOps.silu(in[0]), randn(4, 5)));
    s.add(new Sample("scaleChannels", "4-D by (N, C, 1, 1)", in -> ChannelScaleOps.scaleChannels(in[0], in[1]),
        randn(2, 3, 4, 5), randn(2, 3, 1, 1)));
    s.add(new Sample("sigmoid", "2-D", in -> ActivationOps.sigmoid(in[0]), randn(4, 5)));
    s.add(new Sample("tanh", "2-D", in -> ActivationOps.tanh(in[0]), randn(4, 5)));
    s.add(new Sample("softmax", "dim 1", in -> ActivationOps.softmax(in[0], 1), randn(3, 5)));
    s.add(new Sample("softmax", "dim 0 of 3-D", in -> ActivationOps.softmax(in[0], 0), randn(3, 2, 2)));
    s.add(new Sample("logSoftmax", "dim -1", in -> ActivationOps.logSoftmax(in[0], -1), randn(3, 5)));
    // reductions
    s.add(new Sample("sum", "all", in -> ReductionOps.sum(in[0]), randn(3, 4)));
    s.add(new Sample("sum", "dims keepdim", in -> ReductionOps.sum(in[0], true, 0, 2), randn(2, 3, 4)));
    s.add(new Sample("sum", "dim", in -> ReductionOps.sum(in[0], false, 1), randn(2, 3, 4)));
    s.add(new Sample("mean", "all", in -> ReductionOps.mean(in[0]), randn(3, 4)));
    s.add(new Sample("mean", "dim keepdim", in -> ReductionOps.mean(in[0], true, -1), randn(2, 3, 4)));
    s.add(new Sample("max", "dim", in -> ReductionOps.max(in[0], false, 1), distinct(2, 3, 4)));
    s.add(new Sample("max", "all keepdim", in -> ReductionOps.max(in[0], true), distinct(3, 4)));
    s.add(new Sample("min", "dims", in -> ReductionOps.min(in[0], false, 0, 2), distinct(2, 3, 4)));
    // shape
    s.add(new Sample("reshape", "infer", in -> ShapeOps.reshape(in[0], -1, 2), randn(2, 3, 4)));
    s.add(new Sample("permute", "3-D", in -> ShapeOps.permute(in[0], 2, 0, 1), randn(2, 3, 4)));
    s.add(new Sample("transpose", "0 and 2", in -> ShapeOps.transpose(in[0], 0, 2), randn(2, 3, 4)));
    s.add(new Sample("flatten", "from 1", in -> ShapeOps.flatten(in[0], 1, -1), randn(2, 3, 2, 2)));
    s.add(new Sample("squeeze", "dim 1", in -> ShapeOps.squeeze(in[0], 1), randn(2, 1, 3)));
    s.add(new Sample("unsqueeze", "last", in -> ShapeOps.unsqueeze(in[0], -1), randn(2, 3)));
    s.add(new Sample("expand", "new leading dim", in -> ShapeOps.expand(in[0], 2, 3, 4), randn(3, 1)));
    s.add(new Sample("slice", "step 2", in -> ShapeOps.slice(in[0], 1, 1, 8, 2), randn(3, 10)));
    s.add(new Sample("slice", "negative", in -> ShapeOps.slice(in[0], 0, -3, -1, 1), randn(5, 2)));
    s.add(new Sample("cat", "dim 1", in -> ShapeOps.cat(1, in[0], in[1], in[0]), randn(2, 3, 2), randn(2, 1, 2)));
    // linalg
    s.add(new Sample("matmul", "2-D", in -> LinalgOps.matmul(in[0], in[1]), randn(3, 4), randn(4, 5)));
    s.add(new Sample("matmul", "batched", in -> LinalgOps.matmul(in[0], in[1]), randn(2, 3, 4), randn(2, 4, 2)));
    s.add(new Sample("matmul", "broadcast batch", in -> LinalgOps.matmul(in[0], in[1]), randn(2, 1, 2, 3),
        randn(3, 3, 2)));
    s.add(new Sample("matmul", "vector", in -> LinalgOps.matmul(in[0], in[1]), randn(4), randn(4, 3)));
    s.add(new Sample("linear", "bias", in -> LinalgOps.linear(in[0], in[1], in[2]), randn(3, 4), randn(5, 4), randn(5)));
    s.add(new Sample("linear", "3-D input", in -> LinalgOps.linear(in[0], in[1], null), randn(2, 3, 4), randn(2, 4)));
    // conv
    s.add(new Sample("conv2d", "3x3 pad 1 bias", in -> ConvOps.conv2d(in[0], in[1], in[2], p(1, 1), p(1, 1), p(1, 1), 1),
        randn(2, 2, 5, 5), randn(3, 2, 3, 3), randn(3)));
    s.add(new Sample("conv2d", "stride 2 asymmetric", in -> ConvOps.conv2d(in[0], in[1], null, p(2, 1), p(1, 0),
        p(1, 1), 1), randn(1, 2, 6, 5), randn(2, 2, 3, 2)));
    s.add(new Sample("conv2d", "dilation 2", in -> ConvOps.conv2d(in[0], in[1], in[2], p(1, 1), p(2, 1), p(2, 2), 1),
        randn(1, 2, 6, 6), randn(2, 2, 3, 3), randn(2)));
    // frozen weights (a constant, not an input): the input gradient alone, by transposed convolution; a stride
    // that leaves the last input row unreached, dilation, and a trainable bias
    Tensor frozenW = randn(3, 2, 3, 3);
    s.add(new Sample("conv2d", "frozen weight stride 2", in -> ConvOps.conv2d(in[0], frozenW, in[1], p(2, 2),
        p(1, 0), p(1, 1), 1), randn(2, 2, 8, 7), randn(3)));
    s.add(new Sample("conv2d", "frozen weight stride 1 (exact tiling)", in -> ConvOps.conv2d(in[0], frozenW, null,
        p(1, 1), p(1, 1), p(1, 1), 1), randn(1, 2, 5, 6)));
    s.add(new Sample("conv2d", "frozen weight dilation 2", in -> ConvOps.conv2d(in[0], frozenW, null, p(1, 2),
        p(2, 1), p(2, 2), 1), randn(1, 2, 7, 8)));
    s.add(new Sample("conv2d", "groups 2", in -> ConvOps.conv2d(in[0], in[1], in[2], p(1, 1), p(1, 1), p(1, 1), 2),
        randn(1, 4, 4, 4), randn(4, 2, 3, 3), randn(4)));
    s.add(new Sample("conv2d", "depthwise stride 2", in -> ConvOps.conv2d(in[0], in[1], null, p(2, 2), p(1, 1),
        p(1, 1), 3), randn(2, 3, 5, 5), randn(3, 1, 3, 3)));
    s.add(new Sample("conv2d", "depthwise multiplier 2", in -> ConvOps.conv2d(in[0], in[1], in[2], p(1, 1), p(0, 0),
        p(1, 1), 2), randn(1, 2, 4, 4), randn(4, 1, 2, 2), randn(4)));
    // pooling
    s.add(new Sample("maxPool2d", "k3 s2 p1", in -> PoolOps.maxPool2d(in[0], p(3, 3), p(2, 2), p(1, 1), p(1, 1)),
        distinct(1, 2, 6, 6)));
    s.add(new Sample("maxPool2d", "k2 s2", in -> PoolOps.maxPool2d(in[0], p(2, 2), p(2, 2), p(0, 0), p(1, 1)),
        distinct(2, 1, 4, 6)));
    s.add(new Sample("avgPool2d", "include pad", in -> PoolOps.avgPool2d(in[0], p(3, 3), p(2, 2), p(1, 1), true),
        randn(1, 2, 5, 5)));
    s.add(new Sample("avgPool2d", "exclude pad", in -> PoolOps.avgPool2d(in[0], p(3, 2), p(1, 2), p(1, 1), false),
        randn(1, 2, 5, 4)));
    s.add(new Sample("adaptiveAvgPool2d", "1x1", in -> PoolOps.adaptiveAvgPool2d(in[0], 1, 1), randn(2, 3, 3, 3)));
    s.add(new Sample("adaptiveAvgPool2d", "divisible", in -> PoolOps.adaptiveAvgPool2d(in[0], 2, 2), randn(1, 2, 4, 4)));
    s.add(new Sample("adaptiveAvgPool2d", "uneven", in -> PoolOps.adaptiveAvgPool2d(in[0], 3, 2), randn(1, 2, 5, 5)));
    // batch norm
    s.add(new Sample("batchNorm", "train 4-D affine", in -> NormOps.batchNorm(in[0], null, null, in[1], in[2], true,
        0.1, 1e-5), randn(3, 2, 2, 2), positive(2), randn(2)));
    s.add(new Sample("batchNorm", "train 2-D no affine", in -> NormOps.batchNorm(in[0], null, null, null, null, true,
        0.1, 1e-5), randn(5, 3)));
    Tensor rm = constant(randn(2));
    Tensor rv = constant(positive(2));
    s.add(new Sample("batchNorm", "eval running stats", in -> NormOps.batchNorm(in[0], rm, rv, in[1], in[2], false,
        0.1, 1e-5), randn(3, 2, 2, 2), positive(2), randn(2)));
    s.add(new Sample("batchNormRelu", "train 4-D affine", in -> NormOps.batchNormRelu(in[0], null, null, in[1], in[2],
        true, 0.1, 1e-5), randn(3, 2, 2, 2), positive(2), randn(2)));
    // losses
    Tensor t = labels(6, 4);
    Tensor w = constant(positive(4));
    CrossEntropyOptions d = CrossEntropyOptions.defaults();
    s.add(new Sample("crossEntropy", "mean", in -> LossOps.crossEntropy(in[0], t), randn(6, 4)));
    s.add(new Sample("crossEntropy", "weights, smoothing, ignore_index", in -> LossOps.crossEntropy(in[0],
        Tensor.fromArray(new long[] {0, -100, 2, 3, 1, 3}, 6), d.withWeight(w).withLabelSmoothing(0.2)), randn(6, 4)));
    s.add(new Sample("crossEntropy", "k-dim, none", in -> LossOps.crossEntropy(in[0],
        Tensor.fromArray(new long[] {0, 1, 2, 0, 2, 1}, 2, 3), d.withReduction(Reduction.NONE)), randn(2, 3, 3)));
    s.add(new Sample("nllLoss", "weights sum", in -> LossOps.nllLoss(in[0], t, w, -100, Reduction.SUM), randn(6, 4)));
    s.add(new Sample("mseLoss", "mean", in -> LossOps.mseLoss(in[0], in[1], Reduction.MEAN), randn(3, 4), randn(3, 4)));
    Tensor bw = constant(positive(3, 1));
    Tensor pw = constant(positive(4));
    s.add(new Sample("binaryCrossEntropyWithLogits", "weights and pos_weight", in ->
        LossOps.binaryCrossEntropyWithLogits(in[0], in[1], bw, pw, Reduction.MEAN), randn(3, 4), positive(3, 4).mul(0.4).detach().requiresGrad(true)));
    // dropout: the same seed gives the same mask on every evaluation
    s.add(new Sample("dropout", "p 0.3 training", in -> DropoutOps.dropout(in[0], 0.3, true, new Rng(5)), randn(4, 5)));
    s.add(new Sample("stochasticDepth", "p 0.5 row training", in -> DropoutOps.stochasticDepth(in[0], 0.5, "row", true,
        new Rng(3)), randn(6, 2, 3)));
    // transformer ops
    s.add(new Sample("erf", "erf", in -> ActivationOps.erf(in[0]), randn(3, 4)));
    s.add(new Sample("geluTanh", "tanh approximation", in -> ActivationOps.geluTanh(in[0]), randn(4, 5)));
    s.add(new Sample("layerNorm", "last dim, affine", in -> LayerNormOps.layerNorm(in[0], new long[] {5}, in[1], in[2],
        1e-5), randn(3, 4, 5), randn(5), randn(5)));
    s.add(new Sample("layerNorm", "two dims, no affine", in -> LayerNormOps.layerNorm(in[0], new long[] {3, 4}, null,
        null, 1e-6), randn(2, 3, 4)));
    s.add(new Sample("layerNorm", "strided input", in -> LayerNormOps.layerNorm(in[0].transpose(0, 1), new long[] {3},
        in[1], null, 1e-5), randn(3, 4), randn(3)));
    s.add(new Sample("scaledDotProductAttention", "4-D with mask", in -> AttentionOps.scaledDotProductAttention(in[0],
        in[1], in[2], in[3], 0.0, false, null), randn(2, 2, 3, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 3), randn(3, 5)));
    s.add(new Sample("scaledDotProductAttention", "3-D, dropout", in -> AttentionOps.scaledDotProductAttention(in[0],
        in[1], in[2], null, 0.3, true, new Rng(9)), randn(2, 3, 4), randn(2, 3, 4), randn(2, 3, 2)));
    s.add(new Sample("hardswish", "spanning both kinks", in -> ActivationOps.hardswish(ElementwiseOps.add(
        ElementwiseOps.mul(in[0], 5.0), 0.13)), distinct(5, 6)));
    s.add(new Sample("hardsigmoid", "spanning both kinks", in -> ActivationOps.hardsigmoid(ElementwiseOps.add(
        ElementwiseOps.mul(in[0], 5.0), 0.13)), distinct(5, 6)));
    return s;
  }

  private OpSamples() {}
}
