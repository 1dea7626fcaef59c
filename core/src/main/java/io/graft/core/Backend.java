package io.graft.core;

import io.graft.core.backend.HostMemory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Chooses and starts the ND4J backend before anything else touches ND4J.
 *
 * <p>CPU, linux-x86_64: libnd4j's oneDNN build ({@code -onednn}) is the portable default; when the CPU reports
 * AVX-512 the {@code -onednn-avx512} build is used instead (on a CPU without AVX-512 that build dies with an
 * illegal instruction, so it is never chosen blindly). Override with {@code -Dgraft.native=onednn} or
 * {@code -Dgraft.native=onednn-avx512}; a {@code org.bytedeco.javacpp.platform.extension} set by the user is
 * respected as is. Other platforms use the plain builds of {@code nd4j-native-platform}.
 *
 * <p>GPU ({@code mvn -Pcuda}): ND4J 1.0.0-M2.1's CUDA 11.6 build carries kernels for compute capability
 * 3.7 to 8.6 and no PTX, so a GPU outside that range (Hopper, sm_90, and newer) is refused here with a clear
 * message instead of failing at the first kernel.
 *
 * <p>The build that was loaded is logged once (logger {@code io.graft}).
 */
public final class Backend {
  /** System property selecting the CPU native build: {@code auto} (default), {@code onednn}, {@code onednn-avx512}. */
  public static final String NATIVE_PROPERTY = "graft.native";
  static final String EXTENSION_PROPERTY = "org.bytedeco.javacpp.platform.extension";
  static final String CUDA_BACKEND_CLASS = "org.nd4j.linalg.jcublas.JCublasBackend";
  private static final System.Logger LOG = System.getLogger("io.graft");
  private static volatile String description;

  private Backend() {}

  /** Idempotent; called from {@link Tensor}'s static initialiser, so user code never needs to call it. */
  public static void init() {
    if (description != null) {
      return;
    }
    synchronized (Backend.class) {
      if (description != null) {
        return;
      }
      String chosen = null;
      if (System.getProperty(EXTENSION_PROPERTY) == null) {
        chosen = chooseExtension(System.getProperty("os.name", ""), System.getProperty("os.arch", ""),
            readCpuFlags(), System.getProperty(NATIVE_PROPERTY, "auto"));
        if (chosen != null) {
          System.setProperty(EXTENSION_PROPERTY, chosen);
        }
      }
      HostMemory.init(); // javacpp's settings, before javacpp loads
      if (isOnClasspath(CUDA_BACKEND_CLASS)) {
        String refusal = cudaRefusal(queryGpus());
        if (refusal != null) {
          throw new GraftException(refusal);
        }
      }
      Nd4j.getBackend(); // loads the native library now, with the settings above
      description = describeLoaded();
      LOG.log(System.Logger.Level.INFO, "Graft: " + description);
    }
  }

  /** What was loaded, e.g. {@code "ND4J CPU backend, native build linux-x86_64-onednn-avx512, 2 threads"}. */
  public static String description() {
    init();
    return description;
  }

  /**
   * The JavaCPP platform extension for this machine, or null to leave the platform default.
   *
   * @param override {@code auto}, {@code onednn} or {@code onednn-avx512}
   */
  static String chooseExtension(String osName, String osArch, String cpuFlags, String override) {
    String o = override == null ? "auto" : override.trim().toLowerCase(Locale.ROOT);
    boolean linux64 = osName.toLowerCase(Locale.ROOT).startsWith("linux")
        && (osArch.equals("amd64") || osArch.equals("x86_64"));
    switch (o) {
      case "onednn":
        return "-onednn";
      case "onednn-avx512":
        return "-onednn-avx512";
      case "auto":
        if (!linux64) {
          return null;
        }
        return hasAvx512(cpuFlags) ? "-onednn-avx512" : "-onednn";
      default:
        throw new GraftException("-D" + NATIVE_PROPERTY + "=" + override
            + " is not one of: auto, onednn, onednn-avx512");
    }
  }

  static boolean hasAvx512(String cpuFlags) {
    if (cpuFlags == null) {
      return false;
    }
    for (String f : cpuFlags.split("\\s+")) {
      if (f.equals("avx512f")) {
        return true;
      }
    }
    return false;
  }

  private static String readCpuFlags() {
    Path p = Path.of("/proc/cpuinfo");
    if (!Files.isReadable(p)) {
      return "";
    }
    try {
      for (String line : Files.readAllLines(p, StandardCharsets.US_ASCII)) {
        if (line.startsWith("flags")) {
          return line.substring(line.indexOf(':') + 1);
        }
      }
    } catch (IOException | RuntimeException e) {
      return "";
    }
    return "";
  }

  /**
   * Decides, from {@code nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader} output, whether ND4J's
   * CUDA 11.6 build can run here; returns the refusal message, or null when every GPU is supported (or none
   * could be queried: then ND4J's own error, or its CPU fallback, applies).
   */
  static String cudaRefusal(List<String> gpuLines) {
    List<String> bad = new ArrayList<>();
    for (String line : gpuLines) {
      int comma = line.lastIndexOf(',');
      if (comma < 0) {
        continue;
      }
      String name = line.substring(0, comma).trim();
      double cc;
      try {
        cc = Double.parseDouble(line.substring(comma + 1).trim());
      } catch (NumberFormatException e) {
        continue;
      }
      if (cc < 3.7 || cc >= 9.0) {
        bad.add(name + " (compute capability " + line.substring(comma + 1).trim() + ")");
      }
    }
    if (bad.isEmpty()) {
      return null;
    }
    return "GPU " + String.join(", ", bad) + " is not supported by ND4J 1.0.0-M2.1's CUDA 11.6 backend, which "
        + "ships kernels for compute capability 3.7 to 8.6 only and no PTX (no CUDA 12 build exists). "
        + "Build without -Pcuda to run on the CPU.";
  }

  private static List<String> queryGpus() {
    List<String> lines = new ArrayList<>();
    try {
      Process p = new ProcessBuilder("nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader")
          .redirectErrorStream(true).start();
      try (InputStream in = p.getInputStream()) {
        String out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0) {
          for (String l : out.split("\\R")) {
            if (!l.isBlank()) {
              lines.add(l);
            }
          }
        }
      }
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "Graft: CUDA backend on the classpath but nvidia-smi could not be run ("
          + e.getMessage() + "); the GPU's compute capability was not checked");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return lines;
  }

  private static boolean isOnClasspath(String className) {
    try {
      Class.forName(className, false, Backend.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException e) {
      return false;
    }
  }

  /**
   * The native build of libnd4j that was loaded, named by its JavaCPP platform folder (e.g.
   * {@code linux-x86_64-onednn-avx512}), or null when none is loaded.
   */
  public static String nativeBuild() {
    init();
    return nativeBuildLoaded();
  }

  private static String nativeBuildLoaded() {
    for (Map.Entry<String, String> e : HostMemory.loadedLibraries().entrySet()) {
      if (e.getKey().equals("nd4jcpu") || e.getKey().equals("nd4jcuda")) {
        Path lib = Path.of(e.getValue());
        Path dir = lib.getParent();
        return String.valueOf(dir == null ? lib : dir.getFileName());
      }
    }
    return null;
  }

  /** The number of threads ND4J's native operations use ({@code omp.threads}), or -1 when ND4J does not say. */
  public static int threads() {
    init();
    Object threads = Nd4j.getExecutioner().getEnvironmentInformation().get("omp.threads");
    if (threads == null) {
      return -1;
    }
    try {
      return Integer.parseInt(threads.toString().trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static String describeLoaded() {
    String backend = Nd4j.getBackend().getClass().getSimpleName();
    StringBuilder sb = new StringBuilder("ND4J ").append(backend);
    String build = nativeBuildLoaded();
    if (build != null) {
      sb.append(", native build ").append(build);
    }
    String ext = System.getProperty(EXTENSION_PROPERTY);
    if (ext != null) {
      sb.append(" (").append(EXTENSION_PROPERTY).append('=').append(ext).append(')');
    }
    Object threads = Nd4j.getExecutioner().getEnvironmentInformation().get("omp.threads");
    if (threads != null) {
      sb.append(", ").append(threads).append(" threads");
    }
    return sb.toString();
  }
}
