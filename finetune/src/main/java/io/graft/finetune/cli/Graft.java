package io.graft.finetune.cli;

import io.graft.core.GraftException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The {@code graft} command line ({@code java -jar finetune/target/graft.jar ...}), parsed with picocli. Every
 * failure ends with a non-zero exit status and a one-line reason on standard error.
 */
@Command(name = "graft", mixinStandardHelpOptions = true, versionProvider = Graft.VersionProvider.class,
    description = "Fine-tuning and transfer learning in pure Java.",
    subcommands = {DemoCommand.class, FinetuneCommand.class, EvalCommand.class, InspectCommand.class,
        PredictCommand.class, ConvertCommand.class, ExportCommand.class})
public final class Graft implements Runnable {
  /**
   * What {@code graft --version} and {@code -v} print: this build's version and git commit, e.g.
   * {@code graft 0.1.0 (commit 1a2b3c4d5e6f)}.
   */
  public static String version() {
    return "graft " + BuildInfo.current().label();
  }

  /** picocli's {@code --version}: {@link #version()}. */
  static final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {version()};
    }
  }
  /** Exit status for bad input (files, shapes, arguments). */
  public static final int BAD_INPUT = 2;
  /** Exit status when the JVM ran out of memory. */
  public static final int OUT_OF_MEMORY = 3;

  @Option(names = {"-v", "--verbose"}, scope = ScopeType.INHERIT, description = "log one line on standard error: "
      + "Graft's version, the ND4J backend and its thread count")
  boolean verbose;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(new CommandLine(this), "a command is required: "
        + String.join(", ", new CommandLine(this).getSubcommands().keySet()));
  }

  /** Runs the CLI and returns its exit status (for tests and embedding). */
  public static int execute(PrintWriter out, PrintWriter err, String... args) {
    return execute(new CommandLine(new Graft()), out, err, args);
  }

  /** Runs a command line built from {@link Graft} (tests add commands to it) with Graft's error handling. */
  static int execute(CommandLine cl, PrintWriter out, PrintWriter err, String... args) {
    cl.setOut(out);
    cl.setErr(err);
    showDefaults(cl);
    cl.setExecutionStrategy(parsed -> {
      boolean verbose = false;
      boolean help = false;
      for (CommandLine.ParseResult p = parsed; p != null; p = p.subcommand()) {
        verbose |= p.hasMatchedOption("--verbose");
        help |= p.isUsageHelpRequested() || p.isVersionHelpRequested();
      }
      CliLogging.configure(verbose);
      if (!help) {
        CliLogging.announce(verbose);
      }
      return new CommandLine.RunLast().execute(parsed);
    });
    cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
      if (e instanceof GraftException || e instanceof UnsupportedOperationException) {
        cmd.getErr().println("graft: error: " + e.getMessage().replace('\n', ' '));
        return BAD_INPUT;
      }
      if (e.getCause() instanceof OutOfMemoryError oom) {
        throw oom;
      }
      cmd.getErr().println("graft: internal error: " + e);
      e.printStackTrace(cmd.getErr());
      return 1;
    });
    cl.setParameterExceptionHandler((e, a) -> {
      e.getCommandLine().getErr().println("graft: error: " + e.getMessage());
      e.getCommandLine().getErr().println("(see: graft " + e.getCommandLine().getCommandName() + " --help)");
      return BAD_INPUT;
    });
    int code;
    try {
      code = cl.execute(args);
    } catch (OutOfMemoryError e) { // picocli hands Errors on; the heap may be exhausted, so print one short line
      err.println("graft: error: out of memory (" + e.getMessage() + "); the Java heap is "
          + Runtime.getRuntime().maxMemory() / (1 << 20) + " MiB: give the JVM more with -Xmx, or use a smaller "
          + "--batch-size or image size");
      code = OUT_OF_MEMORY;
    }
    out.flush();
    err.flush();
    return code;
  }

  /** Every command's help shows its options' defaults. */
  private static void showDefaults(CommandLine cl) {
    cl.getCommandSpec().usageMessage().showDefaultValues(true);
    cl.getSubcommands().values().forEach(Graft::showDefaults);
  }

  /**
   * The {@code graft} command: runs {@link #execute} on standard output and error and exits the JVM with its code (0 on
   * success).
   */
  public static void main(String[] args) {
    CliLogging.configure(false); // before anything can load ND4J; execute() sets it again once -v is parsed
    int code = execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    System.exit(code);
  }
}
