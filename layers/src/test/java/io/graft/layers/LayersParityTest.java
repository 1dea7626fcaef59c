package io.graft.layers;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.graft.core.Parameter;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.core.ops.LossOps.CrossEntropyOptions;
import io.graft.core.ops.Reduction;
import io.graft.layers.activation.GELU;
import io.graft.layers.activation.LeakyReLU;
import io.graft.layers.activation.ReLU;
import io.graft.layers.activation.ReLU6;
import io.graft.layers.activation.SiLU;
import io.graft.layers.activation.Sigmoid;
import io.graft.layers.activation.Softmax;
import io.graft.layers.activation.Tanh;
import io.graft.layers.conv.Conv2d;
import io.graft.layers.loss.BCEWithLogitsLoss;
import io.graft.layers.loss.CrossEntropyLoss;
import io.graft.layers.loss.Loss;
import io.graft.layers.loss.MSELoss;
import io.graft.layers.norm.BatchNorm;
import io.graft.layers.norm.BatchNorm1d;
import io.graft.layers.norm.BatchNorm2d;
import io.graft.layers.pool.AdaptiveAvgPool2d;
import io.graft.layers.pool.AvgPool2d;
import io.graft.layers.pool.MaxPool2d;
import io.graft.testing.Fixtures;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every layer against torch.nn ({@code tools/fixtures/layers.py}): the module gets PyTorch's state dict, runs
 * in the case's mode, and its output, input gradient, parameter gradients and buffers after the forward
 * (BatchNorm running statistics, {@code num_batches_tracked}) must match. One constructor per fixture case.
 */
class LayersParityTest {
  static final double RTOL = 1e-5;
  static final double ATOL = 1e-5;
  static final Safetensors.File FIX = Fixtures.load("fixtures/layers/modules.safetensors");
  static final Map<String, Supplier<Module>> MODULES = new LinkedHashMap<>();
  static final Map<String, Loss> LOSSES = new LinkedHashMap<>();

  static void m(String name, Supplier<Module> f) {
    MODULES.put(name, f);
  }

  static Conv2d.Options conv() {
    return Conv2d.Options.defaults();
  }

  static {
    m("linear", () -> new Linear(7, 5));
    m("linear_3d_nobias", () -> new Linear(6, 3, false));
    m("conv2d", () -> new Conv2d(3, 8, 3));
    m("conv2d_stride_pad", () -> new Conv2d(4, 6, 3, conv().withStride(2).withPadding(1)));
    m("conv2d_dilation", () -> new Conv2d(3, 4, 3, conv().withPadding(2).withDilation(2)));
    m("conv2d_groups_nobias", () -> new Conv2d(6, 4, 3, conv().withPadding(1).withGroups(2).withBias(false)));
    m("conv2d_depthwise", () -> new Conv2d(8, 8, 3, conv().withStride(2).withPadding(1).withGroups(8)));
    m("conv2d_7x7_s2", () -> new Conv2d(3, 8, 7, conv().withStride(2).withPadding(3).withBias(false)));
    m("batchnorm2d", () -> new BatchNorm2d(5));
    m("batchnorm2d_cumulative", () -> new BatchNorm2d(3, BatchNorm.Options.defaults().withMomentum(null)));
    m("batchnorm2d_noaffine", () -> new BatchNorm2d(4,
        BatchNorm.Options.defaults().withAffine(false).withEps(1e-3).withMomentum(0.3)));
    m("batchnorm2d_notrack", () -> new BatchNorm2d(4, BatchNorm.Options.defaults().withTrackRunningStats(false)));
    m("batchnorm1d", () -> new BatchNorm1d(6));
    m("batchnorm1d_3d", () -> new BatchNorm1d(4));
    m("maxpool2d", () -> new MaxPool2d(3, 2, 1));
    m("maxpool2d_k2", () -> new MaxPool2d(2));
    m("avgpool2d", () -> new AvgPool2d(3, 2, 1));
    m("avgpool2d_exclude_pad", () -> new AvgPool2d(3, 2, 1, false));
    m("adaptive_avgpool_1", () -> new AdaptiveAvgPool2d(1));
    m("adaptive_avgpool_3", () -> new AdaptiveAvgPool2d(3, 2));
    m("relu", ReLU::new);
    m("relu6", ReLU6::new);
    m("leaky_relu", () -> new LeakyReLU(0.2));
    m("gelu", GELU::new);
    m("silu", SiLU::new);
    m("sigmoid", Sigmoid::new);
    m("tanh", Tanh::new);
    m("softmax", () -> new Softmax(1));
    m("flatten", Flatten::new);
    m("identity", Identity::new);
    m("dropout_eval_is_identity", () -> new Dropout(0.3));
    m("small_cnn", () -> new Sequential(new Conv2d(1, 8, 3, conv().withPadding(1).withBias(false)),
        new BatchNorm2d(8), new ReLU(), new MaxPool2d(2), new Conv2d(8, 16, 3, conv().withPadding(1)),
        new BatchNorm2d(16), new ReLU(), new AdaptiveAvgPool2d(1), new Flatten(), new Dropout(0.0),
        new Linear(16, 10)));

    LOSSES.put("loss/cross_entropy", new CrossEntropyLoss());
    LOSSES.put("loss/cross_entropy_full", new CrossEntropyLoss(CrossEntropyOptions.defaults()
        .withWeight(FIX.tensor("loss/cross_entropy_full/weight")).withIgnoreIndex(3).withLabelSmoothing(0.1)));
    LOSSES.put("loss/mse", new MSELoss());
    LOSSES.put("loss/bce_logits_pos_weight", new BCEWithLogitsLoss(null,
        FIX.tensor("loss/bce_logits_pos_weight/pos_weight"), Reduction.MEAN));
  }

  static String[] fixtureCases() {
    return FIX.metadata().get("cases").split(",");
  }

  @Test
  void everyFixtureCaseHasAConstructorAndViceVersa() {
    TreeSet<String> fromFixture = new TreeSet<>();
    for (String c : fixtureCases()) {
      fromFixture.add(c.contains("@") ? c.substring(0, c.indexOf('@')) : c);
    }
    TreeSet<String> here = new TreeSet<>(MODULES.keySet());
    here.addAll(LOSSES.keySet());
    assertEquals(fromFixture, here);
  }

  @TestFactory
  Stream<DynamicTest> modules() {
    return Arrays.stream(fixtureCases()).filter(c -> c.contains("@"))
        .map(c -> DynamicTest.dynamicTest(c, () -> checkModule(c)));
  }

  @TestFactory
  Stream<DynamicTest> losses() {
    return LOSSES.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(), () -> checkLoss(e.getKey(),
        e.getValue())));
  }

  static void checkModule(String c) {
    String name = c.substring(0, c.indexOf('@'));
    boolean train = c.endsWith("@train");
    Module m = MODULES.get(name).get();
    StateDict sd = new StateDict();
    Map<String, Tensor> after = new LinkedHashMap<>();
    Map<String, Tensor> pgrad = new LinkedHashMap<>();
    for (Safetensors.Entry e : FIX.entries()) {
      String k = e.name();
      if (k.startsWith(c + "/param/")) {
        sd.put(k.substring((c + "/param/").length()), FIX.tensor(k));
      } else if (k.startsWith(c + "/after/")) {
        after.put(k.substring((c + "/after/").length()), FIX.tensor(k));
      } else if (k.startsWith(c + "/pgrad/")) {
        pgrad.put(k.substring((c + "/pgrad/").length()), FIX.tensor(k));
      }
    }
    m.loadStateDict(sd, true);
    m.train(train);
    Tensor x = FIX.tensor(c + "/x").requiresGrad(true);
    Tensor out = m.call(x);
    assertClose(out, FIX.tensor(c + "/out"), ATOL, RTOL, c + " output");
    out.backward(FIX.tensor(c + "/gout"));
    assertClose(x.grad(), FIX.tensor(c + "/gx"), ATOL, RTOL, c + " input gradient");
    Map<String, Parameter> params = m.namedParameters();
    assertEquals(pgrad.keySet(), params.keySet(), c + " parameters");
    for (Map.Entry<String, Tensor> e : pgrad.entrySet()) {
      Tensor g = params.get(e.getKey()).grad();
      assertNotNull(g, c + ": no gradient for " + e.getKey());
      assertClose(g, e.getValue(), ATOL, RTOL, c + " gradient of " + e.getKey());
    }
    Map<String, Tensor> buffers = m.namedBuffers();
    assertEquals(after.keySet(), buffers.keySet(), c + " buffers");
    for (Map.Entry<String, Tensor> e : after.entrySet()) {
      Tensor b = buffers.get(e.getKey());
      assertEquals(e.getValue().dtype(), b.dtype(), c + " dtype of " + e.getKey());
      assertClose(b, e.getValue(), ATOL, RTOL, c + " buffer " + e.getKey() + " after the forward");
    }
  }

  static void checkLoss(String name, Loss loss) {
    Tensor x = FIX.tensor(name + "/x").requiresGrad(true);
    Tensor out = loss.forward(x, FIX.tensor(name + "/target"));
    assertClose(out, FIX.tensor(name + "/out"), ATOL, RTOL, name + " value");
    out.backward();
    assertClose(x.grad(), FIX.tensor(name + "/gx"), ATOL, RTOL, name + " input gradient");
  }
}
