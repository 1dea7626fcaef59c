package io.graft.finetune.cli;

import io.graft.core.Backend;
import java.util.List;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The command line's logging, set before ND4J loads. ND4J logs through SLF4J, which the CLI (and only the CLI: see
 * finetune's pom and {@code distribution/}) binds to java.util.logging, where Graft's own {@code System.Logger}
 * goes too. By default only warnings and errors reach standard error, one line each ({@code graft: warning: ...}),
 * so ND4J's start-up banner (about 24 INFO lines) is never shown; with {@code -v}/{@code --verbose} one more line
 * names Graft's version, the ND4J backend and native build, and its thread count.
 */
final class CliLogging {
  /** The logger of the {@code -v} line; below {@code io.graft}, whose own INFO lines stay off. */
  static final String VERBOSE_LOGGER = "io.graft.cli";

  /** Strong references: java.util.logging holds its loggers weakly, and a collected one loses its level. */
  private static final List<Logger> CONFIGURED = List.of(Logger.getLogger(""), Logger.getLogger("org.nd4j"),
      Logger.getLogger("org.bytedeco"), Logger.getLogger("io.graft"), Logger.getLogger(VERBOSE_LOGGER));

  private CliLogging() {}

  /** Warnings only, as one line each, plus {@link #VERBOSE_LOGGER}'s INFO line when {@code verbose}. */
  static void configure(boolean verbose) {
    for (Logger l : CONFIGURED.subList(0, 4)) {
      l.setLevel(Level.WARNING);
    }
    CONFIGURED.get(4).setLevel(verbose ? Level.INFO : Level.WARNING);
    Logger root = CONFIGURED.get(0);
    boolean console = false;
    for (Handler h : root.getHandlers()) {
      if (h instanceof ConsoleHandler) {
        h.setFormatter(new OneLine());
        h.setLevel(Level.ALL);
        console = true;
      }
    }
    if (!console) {
      Handler h = new ConsoleHandler();
      h.setFormatter(new OneLine());
      h.setLevel(Level.ALL);
      root.addHandler(h);
    }
  }

  /** With {@code verbose}: logs Graft's version, the backend and its threads (this loads ND4J). */
  static void announce(boolean verbose) {
    if (verbose) {
      Logger.getLogger(VERBOSE_LOGGER).info(Graft.version() + "; " + Backend.description());
    }
  }

  /** {@code graft: MESSAGE} for INFO, {@code graft: warning: MESSAGE} and {@code graft: error: MESSAGE} above it. */
  static final class OneLine extends Formatter {
    @Override
    public String format(LogRecord r) {
      String level = r.getLevel().intValue() >= Level.SEVERE.intValue() ? "error: "
          : r.getLevel().intValue() >= Level.WARNING.intValue() ? "warning: " : "";
      String msg = formatMessage(r).replace('\n', ' ');
      if (r.getThrown() != null) {
        msg += " (" + r.getThrown() + ")";
      }
      return "graft: " + level + msg + System.lineSeparator();
    }
  }
}
