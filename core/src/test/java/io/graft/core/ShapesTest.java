package io.graft.core;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ShapesTest {
  @Test
  void anEmptyShapeWithAHugeDimensionIsRefused() {
    // found by fuzzing ONNX Pad: [9, 0, 2^63 - 1] has no elements, but libnd4j's strides overflow on it
    ShapeException e = assertThrows(ShapeException.class,
        () -> Shapes.checkNew("Pad", new long[] {9, 0, Long.MAX_VALUE}));
    assertTrue(e.getMessage().contains("Pad") && e.getMessage().contains("more than 2^31"), e.getMessage());
    assertThrows(ShapeException.class, () -> Tensor.zeros(0, 1L << 31));
    Shapes.checkNew("ok", new long[] {0, Integer.MAX_VALUE - 8});
  }
}
