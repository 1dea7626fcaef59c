package io.graft.finetune.cli;

import io.graft.core.GraftException;
import java.nio.file.Path;

/** Parsing of {@code --data} values: {@code fashion-mnist:DIR}, {@code mnist:DIR}, or an ImageFolder path. */
final class DataSource {
  private DataSource() {}

  static Path fashionMnistDir(String data) {
    if (!data.startsWith("fashion-mnist:")) {
      throw new GraftException("--data must be fashion-mnist:DIR here, got '" + data + "'");
    }
    return Path.of(data.substring("fashion-mnist:".length()));
  }
}
