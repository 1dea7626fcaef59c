package io.graft.testing;

import io.graft.core.GraftException;
import io.graft.core.io.Safetensors;
import java.io.IOException;
import java.io.InputStream;

/** Loads committed parity fixtures ({@code src/test/resources/fixtures/...safetensors}) from the classpath. */
public final class Fixtures {
  private Fixtures() {}

  /** e.g. {@code Fixtures.load("fixtures/ops/conv.safetensors")}. */
  public static Safetensors.File load(String resource) {
    try (InputStream in = Fixtures.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new GraftException("fixture not found on the test classpath: " + resource
            + " (regenerate with tools/regen-fixtures.sh)");
      }
      return Safetensors.open(in.readAllBytes(), resource);
    } catch (IOException e) {
      throw new GraftException("cannot read fixture " + resource + ": " + e.getMessage(), e);
    }
  }
}
