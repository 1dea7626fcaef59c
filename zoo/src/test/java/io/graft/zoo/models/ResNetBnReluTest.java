package io.graft.zoo.models;

import static io.graft.testing.TensorAssert.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.graft.core.Tensor;
import io.graft.core.random.Rng;
import io.graft.layers.Module;
import io.graft.layers.activation.ReLU;
import io.graft.layers.norm.BatchNorm2d;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** ResNet's batch norm + ReLU pairs: one fused pass, unless a forward hook must see either module's own call. */
class ResNetBnReluTest {
  @Test
  void aFusedPairComputesTheTwoCallsAndMakesThemWhenHooked() throws Exception {
    BatchNorm2d bn = new BatchNorm2d(3);
    ReLU relu = new ReLU();
    ResNet.BnRelu pair = new ResNet.BnRelu(bn, relu);
    Tensor x = Tensor.randn(new Rng(3), 4, 3, 5, 5).requiresGrad(true);
    Tensor fused = pair.call(x);
    assertEquals("batch_norm_relu", fused.gradFn().op());
    Tensor apart = relu.call(bn.call(x));
    assertClose(fused, apart, 1e-5, 1e-5, "fused");
    List<Tensor> seen = new ArrayList<>();
    try (AutoCloseable h = relu.addForwardHook((module, in, out) -> seen.add(in))) {
      Tensor hooked = pair.call(x);
      assertEquals("relu", hooked.gradFn().op());
      assertEquals(1, seen.size(), "the hook on the ReLU saw the batch norm's output");
      assertClose(hooked, apart, 1e-5, 1e-5, "hooked on the ReLU");
    }
    try (AutoCloseable h = bn.addForwardHook((module, in, out) -> seen.add(out))) {
      Tensor hooked = pair.call(x);
      assertEquals("relu", hooked.gradFn().op());
      assertEquals(2, seen.size(), "the hook on the batch norm saw its own call");
      assertClose(hooked, apart, 1e-5, 1e-5, "hooked on the batch norm");
    }
  }

  @Test
  void hooksOnABlocksBatchNormAndReluSeeEachCallAndTheOutputIsUnchanged() throws Exception {
    Module plain = Zoo.create("resnet18", 5);
    Module hooked = Zoo.create("resnet18", 5);
    hooked.loadStateDict(plain.stateDict(), true);
    Tensor x = Tensor.randn(new Rng(4), 2, 3, 32, 32);
    Tensor expected = plain.call(x);
    int[] calls = new int[2];
    try (AutoCloseable a = hooked.get("layer1.0.bn1").addForwardHook((m, in, out) -> calls[0]++);
        AutoCloseable b = hooked.get("layer1.0.relu").addForwardHook((m, in, out) -> calls[1]++)) {
      assertClose(hooked.call(x), expected, 1e-4, 1e-4, "logits with hooks inside a block");
    }
    assertEquals(1, calls[0], "bn1 is called once per block call");
    assertEquals(2, calls[1], "a BasicBlock's relu is called after bn1 and after the residual sum");
  }
}
