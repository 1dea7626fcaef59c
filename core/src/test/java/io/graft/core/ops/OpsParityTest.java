package io.graft.core.ops;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.core.ops.LossOps.CrossEntropyOptions;
import io.graft.testing.Fixtures;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Forward values and input gradients of every op against fixtures computed by PyTorch
 * ({@code tools/fixtures/core_ops.py}). Each fixture case has exactly one lambda here and vice versa.
 */
class OpsParityTest {
  static final String[] FAMILIES = {"elementwise", "activation", "reduction", "shape", "linalg", "conv", "pool",
      "norm", "loss", "realistic_conv", "realistic_head"};
  static final double RTOL = 1e-5;
  static final double ATOL = 1e-5;

  static final Map<String, Function<Tensor[], Tensor>> CASES = new LinkedHashMap<>();

  static void c(String name, Function<Tensor[], Tensor> f) {
    CASES.put(name, f);
  }

  static int[] p(int a, int b) {
    return new int[] {a, b};
  }

  static {
    c("elementwise/add_broadcast", in -> in[0].add(in[1]));
    c("elementwise/sub_broadcast", in -> in[0].sub(in[1]));
    c("elementwise/mul_broadcast", in -> in[0].mul(in[1]));
    c("elementwise/div_broadcast", in -> in[0].div(in[1]));
    c("elementwise/div_both", in -> in[0].div(in[1]));
    c("elementwise/add_scalar", in -> in[0].add(2.5));
    c("elementwise/mul_scalar", in -> in[0].mul(-1.5));
    c("elementwise/neg", in -> in[0].neg());
    c("elementwise/pow_frac", in -> in[0].pow(2.5));
    c("elementwise/pow_int", in -> in[0].pow(3));
    c("elementwise/exp", in -> in[0].exp());
    c("elementwise/log", in -> in[0].log());
    c("elementwise/sqrt", in -> in[0].sqrt());
    c("elementwise/abs", in -> in[0].abs());
    c("elementwise/clamp", in -> in[0].clamp(-1.0, 0.5));

    c("activation/relu", in -> ActivationOps.relu(in[0]));
    c("activation/relu6", in -> ActivationOps.relu6(in[0]));
    c("activation/leaky_relu", in -> ActivationOps.leakyRelu(in[0], 0.1));
    c("activation/gelu", in -> ActivationOps.gelu(in[0]));
    c("activation/silu", in -> ActivationOps.silu(in[0]));
    c("activation/sigmoid", in -> ActivationOps.sigmoid(in[0]));
    c("activation/tanh", in -> ActivationOps.tanh(in[0]));
    c("activation/softmax", in -> ActivationOps.softmax(in[0], 1));
    c("activation/softmax_dim0", in -> ActivationOps.softmax(in[0], 0));
    c("activation/log_softmax", in -> ActivationOps.logSoftmax(in[0], -1));

    c("reduction/sum_all", in -> in[0].sum());
    c("reduction/sum_dims_keepdim", in -> in[0].sum(true, 0, 2));
    c("reduction/sum_dim", in -> in[0].sum(false, 1));
    c("reduction/mean_all", in -> in[0].mean());
    c("reduction/mean_dim", in -> in[0].mean(false, -1));
    c("reduction/max_dim", in -> in[0].max(false, 1));
    c("reduction/max_keepdim", in -> in[0].max(true, 1, 2));
    c("reduction/min_dim", in -> in[0].min(false, 0));

    c("shape/reshape", in -> in[0].reshape(6, 4));
    c("shape/reshape_infer", in -> in[0].reshape(-1, 2));
    c("shape/permute", in -> in[0].permute(2, 0, 1));
    c("shape/transpose", in -> in[0].transpose(0, 2));
    c("shape/flatten", in -> in[0].flatten(1, -1));
    c("shape/squeeze", in -> in[0].squeeze(1));
    c("shape/unsqueeze", in -> in[0].unsqueeze(-1));
    c("shape/cat", in -> ShapeOps.cat(1, in[0], in[1]));
    c("shape/slice_step", in -> in[0].slice(1, 1, 8, 2));
    c("shape/slice_negative", in -> in[0].slice(0, -4, -1, 1));
    c("shape/expand", in -> ShapeOps.expand(in[0], 2, 3, 4));

    c("linalg/matmul_2d", in -> in[0].matmul(in[1]));
    c("linalg/matmul_batched", in -> in[0].matmul(in[1]));
    c("linalg/matmul_broadcast", in -> in[0].matmul(in[1]));
    c("linalg/matmul_vec", in -> in[0].matmul(in[1]));
    c("linalg/linear", in -> LinalgOps.linear(in[0], in[1], in[2]));
    c("linalg/linear_3d_nobias", in -> LinalgOps.linear(in[0], in[1], null));

    c("conv/conv3x3", in -> ConvOps.conv2d(in[0], in[1], in[2], p(1, 1), p(1, 1), p(1, 1), 1));
    c("conv/conv7x7_s2", in -> ConvOps.conv2d(in[0], in[1], null, p(2, 2), p(3, 3), p(1, 1), 1));
    c("conv/conv_dilated", in -> ConvOps.conv2d(in[0], in[1], in[2], p(1, 1), p(2, 2), p(2, 2), 1));
    c("conv/conv_groups2", in -> ConvOps.conv2d(in[0], in[1], in[2], p(1, 1), p(1, 1), p(1, 1), 2));
    c("conv/conv_depthwise_s2", in -> ConvOps.conv2d(in[0], in[1], null, p(2, 2), p(1, 1), p(1, 1), 8));
    c("conv/conv_depthwise_mult2", in -> ConvOps.conv2d(in[0], in[1], in[2], p(1, 1), p(1, 1), p(1, 1), 4));
    c("conv/conv_asymmetric", in -> ConvOps.conv2d(in[0], in[1], in[2], p(2, 1), p(1, 2), p(1, 1), 1));
    c("conv/conv1x1_s2", in -> ConvOps.conv2d(in[0], in[1], null, p(2, 2), p(0, 0), p(1, 1), 1));

    c("pool/max_pool_k3s2p1", in -> PoolOps.maxPool2d(in[0], p(3, 3), p(2, 2), p(1, 1), p(1, 1)));
    c("pool/max_pool_k2s2", in -> PoolOps.maxPool2d(in[0], p(2, 2), p(2, 2), p(0, 0), p(1, 1)));
    c("pool/avg_pool_k3s2p1", in -> PoolOps.avgPool2d(in[0], p(3, 3), p(2, 2), p(1, 1), true));
    c("pool/avg_pool_exclude_pad", in -> PoolOps.avgPool2d(in[0], p(3, 3), p(2, 2), p(1, 1), false));
    c("pool/avg_pool_k2s2", in -> PoolOps.avgPool2d(in[0], p(2, 2), p(2, 2), p(0, 0), true));
    c("pool/adaptive_1x1", in -> PoolOps.adaptiveAvgPool2d(in[0], 1, 1));
    c("pool/adaptive_divisible", in -> PoolOps.adaptiveAvgPool2d(in[0], 2, 2));
    c("pool/adaptive_uneven", in -> PoolOps.adaptiveAvgPool2d(in[0], 3, 3));
    c("pool/adaptive_upsample", in -> PoolOps.adaptiveAvgPool2d(in[0], 7, 7));

    for (String bn : new String[] {"bn_train_4d", "bn_train_2d", "bn_train_3d"}) {
      c("norm/" + bn, in -> NormOps.batchNorm(in[0], in[3], in[4], in[1], in[2], true, 0.1, 1e-5));
    }
    c("norm/bn_eval", in -> NormOps.batchNorm(in[0], in[3], in[4], in[1], in[2], false, 0.1, 1e-5));
    c("norm/bn_train_noaffine", in -> NormOps.batchNorm(in[0], null, null, null, null, true, 0.1, 1e-3));

    CrossEntropyOptions d = CrossEntropyOptions.defaults();
    c("loss/ce_mean", in -> LossOps.crossEntropy(in[0], in[1]));
    c("loss/ce_sum", in -> LossOps.crossEntropy(in[0], in[1], d.withReduction(Reduction.SUM)));
    c("loss/ce_none", in -> LossOps.crossEntropy(in[0], in[1], d.withReduction(Reduction.NONE)));
    c("loss/ce_smoothing", in -> LossOps.crossEntropy(in[0], in[1], d.withLabelSmoothing(0.1)));
    c("loss/ce_weight", in -> LossOps.crossEntropy(in[0], in[1], d.withWeight(in[2])));
    c("loss/ce_ignore", in -> LossOps.crossEntropy(in[0], in[1]));
    c("loss/ce_weight_ignore_smoothing",
        in -> LossOps.crossEntropy(in[0], in[1], d.withWeight(in[2]).withLabelSmoothing(0.2)));
    c("loss/ce_ignore_smoothing_none",
        in -> LossOps.crossEntropy(in[0], in[1], d.withLabelSmoothing(0.2).withReduction(Reduction.NONE)));
    c("loss/ce_kdim", in -> LossOps.crossEntropy(in[0], in[1]));
    c("loss/nll_weight", in -> LossOps.nllLoss(in[0], in[1], in[2], -100, Reduction.MEAN));
    c("loss/mse_mean", in -> LossOps.mseLoss(in[0], in[1], Reduction.MEAN));
    c("loss/mse_sum", in -> LossOps.mseLoss(in[0], in[1], Reduction.SUM));
    c("loss/mse_none", in -> LossOps.mseLoss(in[0], in[1], Reduction.NONE));
    c("loss/bce_logits", in -> LossOps.binaryCrossEntropyWithLogits(in[0], in[1], null, null, Reduction.MEAN));
    c("loss/bce_logits_weighted",
        in -> LossOps.binaryCrossEntropyWithLogits(in[0], in[1], in[2], in[3], Reduction.SUM));
  }

  static {
    c("realistic_conv/resnet_layer1_conv3x3", in -> ConvOps.conv2d(in[0], in[1], null, p(1, 1), p(1, 1), p(1, 1), 1));
    c("realistic_head/resnet_bn_relu_train", in -> NormOps.batchNormRelu(in[0], in[3], in[4], in[1], in[2], true,
        0.1, 1e-5));
    c("realistic_head/resnet_maxpool", in -> PoolOps.maxPool2d(in[0], p(3, 3), p(2, 2), p(1, 1), p(1, 1)));
    c("realistic_head/resnet_avgpool_fc", in -> LinalgOps.linear(PoolOps.adaptiveAvgPool2d(in[0], 1, 1)
        .flatten(1, -1), in[1], in[2]));
    c("realistic_head/imagenet_cross_entropy", in -> LossOps.crossEntropy(in[0], in[1],
        CrossEntropyOptions.defaults().withLabelSmoothing(0.1)));
  }

  /** A fixture case: inputs (those with a stored gradient require grad), output, upstream and input grads. */
  record Case(String name, Tensor[] inputs, Tensor out, Tensor gout, Tensor[] grads) {
    static Case load(Safetensors.File f, String family, String name) {
      Set<String> keys = new HashSet<>();
      f.entries().forEach(e -> keys.add(e.name()));
      List<Tensor> ins = new ArrayList<>();
      List<Tensor> grads = new ArrayList<>();
      for (int i = 0; keys.contains(name + "/in" + i); i++) {
        Tensor t = f.tensor(name + "/in" + i);
        boolean grad = keys.contains(name + "/grad" + i);
        ins.add(grad ? t.requiresGrad(true) : t);
        grads.add(grad ? f.tensor(name + "/grad" + i) : null);
      }
      return new Case(family + "/" + name, ins.toArray(Tensor[]::new), f.tensor(name + "/out"),
          f.tensor(name + "/gout"), grads.toArray(Tensor[]::new));
    }
  }

  static List<String> caseNames(Safetensors.File f) {
    return Arrays.asList(f.metadata().get("cases").split(","));
  }

  @TestFactory
  Stream<DynamicTest> everyOpMatchesPyTorchForwardAndBackward() {
    List<DynamicTest> tests = new ArrayList<>();
    for (String family : FAMILIES) {
      Safetensors.File f = Fixtures.load("fixtures/ops/" + family + ".safetensors");
      for (String name : caseNames(f)) {
        tests.add(DynamicTest.dynamicTest(family + "/" + name, () -> check(Case.load(f, family, name))));
      }
    }
    return tests.stream();
  }

  static void check(Case c) {
    Function<Tensor[], Tensor> fn = CASES.get(c.name());
    if (fn == null) {
      fail("fixture case " + c.name() + " has no Graft lambda in OpsParityTest");
    }
    check(c, fn);
  }

  /** The case's forward and input gradients, computed by {@code fn}, against PyTorch's. */
  static void check(Case c, Function<Tensor[], Tensor> fn) {
    Tensor out = fn.apply(c.inputs());
    double scale = Math.max(1, maxAbs(c.out()));
    assertClose(out, c.out(), ATOL * scale, RTOL, c.name() + " forward");
    boolean anyGrad = Arrays.stream(c.grads()).anyMatch(g -> g != null);
    if (!anyGrad) {
      return;
    }
    out.backward(c.gout());
    for (int i = 0; i < c.inputs().length; i++) {
      if (c.grads()[i] != null) {
        double gs = Math.max(1, maxAbs(c.grads()[i]));
        assertClose(c.inputs()[i].grad(), c.grads()[i], ATOL * gs, RTOL, c.name() + " grad of input " + i);
      }
    }
  }

  static double maxAbs(Tensor t) {
    double m = 0;
    for (double v : t.toDoubleArray()) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }

  @Test
  void everyLambdaHasAFixtureCase() {
    Set<String> fixtureCases = new HashSet<>();
    for (String family : FAMILIES) {
      for (String name : caseNames(Fixtures.load("fixtures/ops/" + family + ".safetensors"))) {
        fixtureCases.add(family + "/" + name);
      }
    }
    Set<String> orphans = new HashSet<>(CASES.keySet());
    orphans.removeAll(fixtureCases);
    assertTrue(orphans.isEmpty(), "lambdas without fixture cases: " + orphans);
  }

  @Test
  void batchNormTrainingUpdatesRunningStatisticsLikePyTorch() {
    Safetensors.File f = Fixtures.load("fixtures/ops/norm.safetensors");
    for (String bn : new String[] {"bn_train_4d", "bn_train_2d", "bn_train_3d"}) {
      Case c = Case.load(f, "norm", bn);
      CASES.get(c.name()).apply(c.inputs());
      assertClose(c.inputs()[3], f.tensor(bn + "/running_mean_after"), 1e-6, 1e-5, bn + " running_mean");
      assertClose(c.inputs()[4], f.tensor(bn + "/running_var_after"), 1e-6, 1e-5, bn + " running_var");
      assertEquals(0, c.inputs()[3].rank() - 1);
    }
  }
}
