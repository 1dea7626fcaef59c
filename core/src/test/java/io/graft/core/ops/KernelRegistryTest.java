package io.graft.core.ops;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Backend;
import io.graft.core.Layout;
import io.graft.core.Tensor;
import io.graft.core.backend.Backends;
import io.graft.core.backend.Kernel;
import io.graft.core.backend.Kernels;
import io.graft.core.io.Safetensors;
import io.graft.testing.Fixtures;
import io.graft.testing.GradCheck;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.IntPredicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The one registry of kernel checks: every kernel of every backend ({@link Backends#ALL}, {@link Kernels#kernels()})
 * runs here, pinned to its backend, against
 * <ul>
 *   <li>PyTorch's fixtures ({@code tools/fixtures/core_ops.py}, the cases of {@link OpsParityTest}), in C order
 *       and channels_last input;
 *   <li>for libnd4j's backward kernels, finite differences in float64 (the {@link OpSamples} of the op, as
 *       {@link OpsGradCheckTest});
 *   <li>for every other backend, libnd4j's float64 results on the same fixture inputs (the gradchecked reference).
 * </ul>
 * A backend that declares a kernel with no check here fails {@link #everyKernelOfEveryBackendHasACheck}.
 * (In {@code io.graft.core.ops} rather than {@code backend}: the checks run the kernels through the ops, with the
 * package's fixture cases and samples.) Surefire runs this class twice: with the default threads, and in the
 * {@code one-thread} execution of core's pom with {@code OMP_NUM_THREADS=1}, the only way to reach the kernels'
 * single-thread code paths (the native libraries read it once, when they load).
 */
class KernelRegistryTest {
  /**
   * A kernel's check: the fixture cases that run it, the {@link OpSamples} op whose samples run it, the inputs whose
   * gradients it computes (null: a forward kernel), and whether it reads channels_last input only on a backend
   * other than libnd4j (oneDNN's pooling).
   */
  record Check(List<String> fixtures, String sampleOp, IntPredicate gradOf, boolean channelsLastOnly) {}

  private static final IntPredicate INPUT = i -> i == 0;
  private static final IntPredicate PARAMETERS = i -> i > 0;
  private static final IntPredicate ALL = i -> true;

  static final Map<Kernel, Check> CHECKS = new EnumMap<>(Kernel.class);

  static {
    List<String> conv = List.of("conv/conv3x3", "conv/conv7x7_s2", "conv/conv_dilated", "conv/conv_groups2",
        "conv/conv_depthwise_s2", "conv/conv_depthwise_mult2", "conv/conv_asymmetric", "conv/conv1x1_s2",
        "realistic_conv/resnet_layer1_conv3x3");
    CHECKS.put(Kernel.CONV2D, new Check(conv, "conv2d", null, false));
    CHECKS.put(Kernel.CONV2D_INPUT_GRAD, new Check(conv, "conv2d", INPUT, false));
    CHECKS.put(Kernel.CONV2D_WEIGHT_GRAD, new Check(conv, "conv2d", PARAMETERS, false));
    List<String> bn = List.of("norm/bn_train_4d", "norm/bn_train_2d", "norm/bn_train_3d", "norm/bn_eval",
        "norm/bn_train_noaffine");
    CHECKS.put(Kernel.BATCH_NORM, new Check(bn, "batchNorm", null, false));
    CHECKS.put(Kernel.BATCH_NORM_BACKWARD, new Check(bn, "batchNorm", ALL, false));
    List<String> bnRelu = List.of("realistic_head/resnet_bn_relu_train");
    CHECKS.put(Kernel.BATCH_NORM_RELU, new Check(bnRelu, "batchNormRelu", null, false));
    CHECKS.put(Kernel.BATCH_NORM_RELU_BACKWARD, new Check(bnRelu, "batchNormRelu", ALL, false));
    List<String> max = List.of("pool/max_pool_k3s2p1", "pool/max_pool_k2s2", "realistic_head/resnet_maxpool");
    CHECKS.put(Kernel.MAX_POOL2D, new Check(max, "maxPool2d", null, true));
    CHECKS.put(Kernel.MAX_POOL2D_BACKWARD, new Check(max, "maxPool2d", INPUT, true));
    List<String> avg = List.of("pool/avg_pool_k3s2p1", "pool/avg_pool_exclude_pad", "pool/avg_pool_k2s2");
    CHECKS.put(Kernel.AVG_POOL2D, new Check(avg, "avgPool2d", null, true));
    CHECKS.put(Kernel.AVG_POOL2D_BACKWARD, new Check(avg, "avgPool2d", INPUT, true));
    List<String> batched = List.of("linalg/matmul_batched");
    CHECKS.put(Kernel.BATCHED_MATMUL, new Check(batched, "matmul", null, false));
    CHECKS.put(Kernel.BATCHED_MATMUL_BACKWARD, new Check(batched, "matmul", ALL, false));
    List<String> ln = List.of("transformer/layer_norm_last", "transformer/layer_norm_two_dims",
        "transformer/layer_norm_no_affine");
    CHECKS.put(Kernel.LAYER_NORM, new Check(ln, "layerNorm", null, false));
    CHECKS.put(Kernel.LAYER_NORM_BACKWARD, new Check(ln, "layerNorm", ALL, false));
    List<String> act = List.of("activation/silu", "activation/sigmoid");
    CHECKS.put(Kernel.ACTIVATION, new Check(act, "silu", null, false));
    CHECKS.put(Kernel.ACTIVATION_BACKWARD, new Check(act, "silu", INPUT, false));
  }

  private static final Map<String, Safetensors.File> FILES = new HashMap<>();

  @Test
  void everyKernelOfEveryBackendHasACheck() {
    for (Kernels backend : Backends.ALL) {
      for (Kernel k : backend.kernels()) {
        Check c = CHECKS.get(k);
        assertNotNull(c, backend.name() + " declares kernel " + k + ", which has no check in KernelRegistryTest");
        assertFalse(c.fixtures().isEmpty(), k + ": no fixture cases");
        assertTrue(OpSamples.all().stream().anyMatch(s -> s.op().equals(c.sampleOp())), k + ": no samples");
        assertTrue(c.fixtures().stream().allMatch(n -> caseFunction(n) != null), k + ": unknown fixture case");
      }
    }
  }

  /**
   * ND4J's natives run on the threads this JVM was started for: one in the {@code one-thread} execution (which sets
   * {@code OMP_NUM_THREADS=1} and {@code graft.test.threads=1}), so that it checks the single-thread code paths.
   */
  @Test
  void nativeKernelsRunOnTheThreadsThisExecutionAsks() {
    String asked = System.getProperty("graft.test.threads", System.getenv("OMP_NUM_THREADS"));
    if (asked != null) {
      assertEquals(Integer.parseInt(asked.trim()), Backend.threads(), "ND4J's native threads (OMP_NUM_THREADS="
          + System.getenv("OMP_NUM_THREADS") + ")");
    } else {
      assertTrue(Backend.threads() >= 1, "ND4J reports its native threads: " + Backend.threads());
    }
  }

  static Stream<Arguments> kernels() {
    List<Arguments> all = new ArrayList<>();
    for (Kernels backend : Backends.ALL) {
      for (Kernel k : backend.kernels()) {
        all.add(Arguments.of(backend.name(), k));
      }
    }
    return all.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("kernels")
  void kernelMatchesPyTorchAndTheFloat64Reference(String backendName, Kernel kernel) {
    Kernels backend = Backends.ALL.stream().filter(b -> b.name().equals(backendName)).findFirst().orElseThrow();
    Check check = CHECKS.get(kernel);
    boolean libnd4j = backend == Backends.LIBND4J;
    boolean gradSeen = check.gradOf() == null;
    for (String name : check.fixtures()) {
      Function<Tensor[], Tensor> f = caseFunction(name);
      for (boolean cl : new boolean[] {false, true}) {
        if (!cl && check.channelsLastOnly() && !libnd4j) {
          continue;
        }
        OpsParityTest.Case c = load(name);
        OpsParityTest.Case laid = new OpsParityTest.Case(c.name(), layout(c.inputs(), cl, DataType.FLOAT), c.out(),
            c.gout(), c.grads());
        String what = backendName + " " + kernel + " " + name + (cl ? " channels_last" : " C order");
        try (Backends.Pin pin = Backends.pin(backend)) {
          OpsParityTest.check(new OpsParityTest.Case(what, laid.inputs(), laid.out(), laid.gout(), laid.grads()),
              f);
        }
        for (int i = 0; i < c.grads().length; i++) {
          gradSeen |= check.gradOf() != null && check.gradOf().test(i) && c.grads()[i] != null;
        }
        if (!libnd4j) {
          againstFloat64(backend, kernel, name, f, cl, what);
        }
      }
    }
    assertTrue(gradSeen, kernel + ": no fixture case has a gradient this kernel computes");
    if (libnd4j && check.gradOf() != null) {   // (a forward kernel's values: the fixtures above)
      int checked = 0;
      for (OpSamples.Sample s : OpSamples.all()) {
        if (s.op().equals(check.sampleOp())) {
          // finite differences for the gradients this kernel computes only
          Tensor[] in = new Tensor[s.inputs().length];
          int mine = 0;
          for (int i = 0; i < in.length; i++) {
            boolean computes = s.inputs()[i].requiresGrad() && check.gradOf().test(i);
            mine += computes ? 1 : 0;
            in[i] = Tensor.of(s.inputs()[i].data()).requiresGrad(computes);
          }
          checked += mine;
          if (mine == 0) {
            continue;
          }
          try (Backends.Pin pin = Backends.pin(backend)) {
            GradCheck.assertGradients(backendName + " " + kernel + " " + s, s.f(), in);
          }
        }
      }
      assertTrue(checked > 0, kernel + ": no sample has a gradient this kernel computes");
    }
  }

  /** The backend's float32 forward and gradients against libnd4j's float64 ones on the same inputs. */
  private static void againstFloat64(Kernels backend, Kernel kernel, String name, Function<Tensor[], Tensor> f,
      boolean cl, String what) {
    OpsParityTest.Case c = load(name);
    Tensor[] in32 = layout(c.inputs(), cl, DataType.FLOAT);
    Tensor[] in64 = layout(load(name).inputs(), false, DataType.DOUBLE);
    Tensor out32;
    try (Backends.Pin pin = Backends.pin(backend)) {
      out32 = f.apply(in32);
      if (kernel == Kernel.BATCH_NORM_RELU || kernel == Kernel.BATCH_NORM_RELU_BACKWARD) {
        assertEquals("batch_norm_relu", out32.gradFn().op(), what + ": the fused kernel ran");
      }
      out32.backward(c.gout());
    }
    Tensor out64;
    try (Backends.Pin pin = Backends.pin(Backends.LIBND4J)) {
      out64 = f.apply(in64);
      out64.backward(c.gout().to(DataType.DOUBLE));
    }
    double scale = Math.max(1, OpsParityTest.maxAbs(out64));
    assertClose(out32, out64, 1e-5 * scale, 1e-4, what + " forward against libnd4j float64");
    for (int i = 0; i < in32.length; i++) {
      if (in32[i].requiresGrad()) {
        double gs = Math.max(1, OpsParityTest.maxAbs(in64[i].grad()));
        assertClose(in32[i].grad(), in64[i].grad(), 1e-5 * gs, 1e-4, what + " gradient of input " + i
            + " against libnd4j float64");
      }
    }
  }

  /** A fixture case's function: {@link OpsParityTest}'s, or {@link TransformerOpsParityTest}'s for "transformer/". */
  private static Function<Tensor[], Tensor> caseFunction(String name) {
    return name.startsWith("transformer/") ? TransformerOpsParityTest.CASES.get(name.substring("transformer/".length()))
        : OpsParityTest.CASES.get(name);
  }

  private static OpsParityTest.Case load(String name) {
    int slash = name.indexOf('/');
    String family = name.substring(0, slash);
    Safetensors.File file = FILES.computeIfAbsent(family, fam -> Fixtures.load("fixtures/ops/" + fam
        + ".safetensors"));
    return OpsParityTest.Case.load(file, family, name.substring(slash + 1));
  }

  /** Fresh copies of the inputs in {@code dtype}, 4-D ones channels_last when {@code cl}. */
  private static Tensor[] layout(Tensor[] inputs, boolean cl, DataType dtype) {
    Tensor[] r = new Tensor[inputs.length];
    for (int i = 0; i < inputs.length; i++) {
      Tensor t = inputs[i];
      Tensor d = Tensor.of(t.data().castTo(dtype).dup('c'));
      if (cl && t.rank() == 4) {
        d = Tensor.of(Layout.uninitializedChannelsLast(dtype, t.shape()).assign(d.data()));
      }
      r[i] = d.requiresGrad(t.requiresGrad());
    }
    return r;
  }
}
