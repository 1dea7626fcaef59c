package io.graft.core.backend;

import io.graft.core.GraftException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * How a training step's float32 convolutions are computed on oneDNN: {@link #DIRECT}, {@link #WINOGRAD} (oneDNN's
 * F(4x4, 3x3) Winograd kernels, for 3×3 stride-1 convolutions only) or {@link #AUTO} (Winograd where the measured
 * table says it is faster). The default is {@link #DIRECT} until the table and the training step have been measured
 * on an idle machine beside PyTorch (docs/benchmarks.md); {@code -Dgraft.conv.algorithm=auto} opts in. Chosen by
 * the system property {@code graft.conv.algorithm=auto|direct|winograd}
 * and, per thread, by {@link #use} (a scope, closed in reverse order as try-with-resources).
 *
 * <p>The rule: a convolution that records no graph (inference: {@code GradMode} disabled, a frozen stretch,
 * {@code predict}, export) is always direct, so every parity test of forward outputs is unchanged. A training
 * convolution may use Winograd only when it is 3×3, stride 1, dilation 1, one group; then {@link #DIRECT} and
 * {@link #WINOGRAD} decide, and {@link #AUTO} asks the table {@code conv-algorithms.tsv} (beside this class; or the
 * file named by {@code -Dgraft.conv.algorithmTable}): the row whose output size is nearest on a log scale, Winograd
 * when the passes measured for both algorithms take less time with it. The table shipped says Winograd at 56², 28²
 * and 14² outputs and direct at 7². Where oneDNN has no Winograd primitive for a shape (its channels, the CPU), the
 * convolution runs direct. Winograd primitives run with a user-managed scratchpad, as every other primitive of
 * Graft's (see {@link OneDnn}); a library-managed one crashed its backward-weights pass at 14² and 7² in a
 * standalone trial.
 */
public enum ConvAlgorithm {
  /** Winograd where the measured table says it is faster (training convolutions only). */
  AUTO,
  /** Direct convolution everywhere. */
  DIRECT,
  /** Winograd for every training 3×3 stride-1 convolution oneDNN has a Winograd primitive for. */
  WINOGRAD;

  /** System property choosing the algorithm for the whole process: {@code auto}, {@code direct} (default), or
   * {@code winograd}. */
  public static final String PROPERTY = "graft.conv.algorithm";
  /** System property naming a table file to use instead of the one shipped (same columns). */
  public static final String TABLE_PROPERTY = "graft.conv.algorithmTable";

  /** The system property's setting, read on first use (a bad value is a {@link GraftException} there). */
  private static volatile ConvAlgorithm fromProperty;
  private static final ThreadLocal<ConvAlgorithm> SCOPED = new ThreadLocal<>();
  private static volatile List<Row> table;

  /** One measured shape: output size and per-pass times in ms (NaN: not measured). */
  record Row(long outH, long outW, double[] direct, double[] winograd) {
    /** Whether Winograd took less time over the passes measured for both. */
    boolean winogradFaster() {
      double d = 0;
      double w = 0;
      int both = 0;
      for (int i = 0; i < direct.length; i++) {
        if (!Double.isNaN(direct[i]) && !Double.isNaN(winograd[i])) {
          d += direct[i];
          w += winograd[i];
          both++;
        }
      }
      return both > 0 && w < d;
    }
  }

  /** The algorithm in force on this thread: the innermost {@link #use} scope's, else the system property's. */
  public static ConvAlgorithm current() {
    ConvAlgorithm a = SCOPED.get();
    if (a != null) {
      return a;
    }
    ConvAlgorithm p = fromProperty;
    if (p == null) {
      p = parse(System.getProperty(PROPERTY, "direct"), "-D" + PROPERTY);
      fromProperty = p;
    }
    return p;
  }

  /** Uses {@code algorithm} on this thread until the returned scope closes. */
  public static Scope use(ConvAlgorithm algorithm) {
    if (algorithm == null) {
      throw new GraftException("ConvAlgorithm.use: algorithm is null; one of " + List.of(values()));
    }
    ConvAlgorithm was = SCOPED.get();
    SCOPED.set(algorithm);
    return () -> SCOPED.set(was);
  }

  /** A scope of {@link #use}; closing it restores the algorithm before it. */
  public interface Scope extends AutoCloseable {
    @Override
    void close();
  }

  /** {@code auto}, {@code direct} or {@code winograd}, any case; anything else is a {@link GraftException}. */
  public static ConvAlgorithm parse(String value, String where) {
    String v = value == null ? "" : value.trim().toUpperCase(Locale.ROOT);
    for (ConvAlgorithm a : values()) {
      if (a.name().equals(v)) {
        return a;
      }
    }
    throw new GraftException(where + "=" + value + " is not one of: auto, direct, winograd");
  }

  /**
   * Whether a convolution with this geometry and output size runs Winograd under the current setting: only when it
   * records a graph ({@code training}) and is 3×3, stride 1, dilation 1, one group (see the class comment).
   */
  static boolean winograd(Conv2dGeometry geo, long outH, long outW, boolean training) {
    if (!training || geo.kH() != 3 || geo.kW() != 3 || geo.sH() != 1 || geo.sW() != 1 || geo.dH() != 1
        || geo.dW() != 1 || geo.groups() != 1) {
      return false;
    }
    return switch (current()) {
      case DIRECT -> false;
      case WINOGRAD -> true;
      case AUTO -> nearest(outH, outW).map(Row::winogradFaster).orElse(false);
    };
  }

  /** The table's row nearest to an output size on a log scale (the smaller size on a tie), if the table has rows. */
  static java.util.Optional<Row> nearest(long outH, long outW) {
    Row best = null;
    double bestDistance = Double.MAX_VALUE;
    double at = Math.log((double) outH * outW);
    for (Row r : table()) {
      double d = Math.abs(Math.log((double) r.outH() * r.outW()) - at);
      if (d < bestDistance - 1e-12
          || (Math.abs(d - bestDistance) <= 1e-12 && best != null && r.outH() * r.outW() < best.outH() * best.outW())) {
        best = r;
        bestDistance = d;
      }
    }
    return java.util.Optional.ofNullable(best);
  }

  static List<Row> table() {
    List<Row> t = table;
    if (t == null) {
      String file = System.getProperty(TABLE_PROPERTY);
      try (InputStream in = file != null ? Files.newInputStream(Path.of(file))
          : ConvAlgorithm.class.getResourceAsStream("conv-algorithms.tsv")) {
        if (in == null) {
          throw new GraftException("ConvAlgorithm: conv-algorithms.tsv is missing from the classpath");
        }
        t = parseTable(new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)),
            file != null ? file : "conv-algorithms.tsv");
      } catch (IOException e) {
        throw new GraftException("ConvAlgorithm: cannot read the table " + file + ": " + e.getMessage());
      }
      table = t;
    }
    return t;
  }

  /** Parses the table: '#' comments, then rows of 10 tab-separated columns (see conv-algorithms.tsv). */
  static List<Row> parseTable(BufferedReader r, String name) throws IOException {
    List<Row> rows = new ArrayList<>();
    String line;
    int n = 0;
    while ((line = r.readLine()) != null) {
      n++;
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      String[] f = line.trim().split("\\s+");
      if (f.length != 10) {
        throw new GraftException(name + ":" + n + ": expected 10 columns (out_h out_w channels batch, then direct "
            + "and winograd ms for fwd, bwd_data, bwd_weights), got " + f.length);
      }
      try {
        rows.add(new Row(Long.parseLong(f[0]), Long.parseLong(f[1]),
            new double[] {ms(f[4]), ms(f[5]), ms(f[6])}, new double[] {ms(f[7]), ms(f[8]), ms(f[9])}));
      } catch (NumberFormatException e) {
        throw new GraftException(name + ":" + n + ": not a number: " + e.getMessage());
      }
    }
    return rows;
  }

  private static double ms(String s) {
    return s.equals("-") ? Double.NaN : Double.parseDouble(s);
  }
}
