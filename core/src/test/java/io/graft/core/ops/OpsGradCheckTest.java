package io.graft.core.ops;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Tensor;
import io.graft.testing.GradCheck;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every op's backward against central finite differences in float64. */
class OpsGradCheckTest {
  static final List<Class<?>> OP_FAMILIES = List.of(ElementwiseOps.class, ActivationOps.class, ReductionOps.class,
      ShapeOps.class, LinalgOps.class, ConvOps.class, PoolOps.class, NormOps.class, LossOps.class, DropoutOps.class,
      LayerNormOps.class, AttentionOps.class, ChannelScaleOps.class);

  static List<OpSamples.Sample> samples() {
    return OpSamples.all();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("samples")
  void backwardMatchesFiniteDifferences(OpSamples.Sample s) {
    GradCheck.assertGradients(s.toString(), s.f(), s.inputs());
  }

  @Test
  void everyOpHasAGradCheckSample() {
    Set<String> ops = new TreeSet<>();
    for (Class<?> c : OP_FAMILIES) {
      for (Method m : c.getDeclaredMethods()) {
        if (Modifier.isPublic(m.getModifiers()) && Modifier.isStatic(m.getModifiers())
            && m.getReturnType() == Tensor.class) {
          ops.add(m.getName());
        }
      }
    }
    Set<String> sampled = OpSamples.all().stream().map(OpSamples.Sample::op).collect(Collectors.toSet());
    Set<String> missing = new TreeSet<>(ops);
    missing.removeAll(sampled);
    assertTrue(missing.isEmpty(), "ops without a gradcheck sample in OpSamples: " + missing);
    Set<String> unknown = new TreeSet<>(sampled);
    unknown.removeAll(ops);
    assertTrue(unknown.isEmpty(), "samples naming no public op: " + unknown);
  }
}
