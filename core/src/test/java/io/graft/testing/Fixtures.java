package io.graft.testing;

import io.graft.core.GraftException;
import io.graft.core.io.Safetensors;
import java.io.IOException;
import java.io.InputStream;

/** Loads committed parity fixtures ({@code src/test/resources/fixtures/...safetensors}) from the classpath. */
public final class Fixtures {
  private Fixtures() {}

  /** The file of a test resource, e.g. {@code Fixtures.path("fixtures/zoo/resnet18.pth")}. */
  public static java.nio.file.Path path(String resource) {
    java.net.URL url = Fixtures.class.getClassLoader().getResource(resource);
    if (url == null) {
      throw new GraftException("fixture not found on the test classpath: " + resource);
    }
    try {
      return java.nio.file.Paths.get(url.toURI());
    } catch (java.net.URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

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
