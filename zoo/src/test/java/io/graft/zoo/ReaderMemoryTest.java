package io.graft.zoo;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.zoo.onnx.Graphs;
import io.graft.zoo.onnx.proto.Onnx;
import io.graft.zoo.weights.PthFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The memory rule of {@code docs/reliability.md}, measured: reading a file of N bytes (a weight file, an array, or an
 * ONNX graph loaded and run) may not raise the process's peak resident memory by more than
 * {@code max(64 MiB, K·N)} over a process that read nothing, plus, for a graph that runs, its intermediate-tensor
 * budget. Each file is read in its own child JVM ({@link MemoryChild}), whose peak RSS (VmHWM) is compared with a
 * baseline child's. The children run with a 16 MiB young generation, so that resident memory follows what the
 * reader keeps rather than how much garbage the collector lets pile up before its first collection (the default
 * young generation here is a third of a 384 MiB heap). The files are crafted like the ones that once took
 * gigabytes: stride-0 views of a tiny storage, a deflated storage that inflates 1000-fold, a header of hundreds of thousands of empty tensors, a wide float16
 * file, and graphs of a hundred bytes that expand, tile, pad or pool to hundreds of millions of elements.
 */
class ReaderMemoryTest {
  /** Bytes the process may grow per byte of the file. */
  static final long K = 4;
  static final long FLOOR = 64L << 20;
  /** The intermediate-tensor budget the graph runs get (the default is larger; a small one keeps the test light). */
  static final long ONNX_BUDGET = 256L << 20;

  @TempDir
  static Path tmp;
  static long baseline;

  record Outcome(String outcome, long peakBytes) {}

  static Outcome child(String kind, Path file, String... jvmArgs) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx1g", "-Xmn16m", "-XX:+UseSerialGC", "-Dorg.bytedeco.javacpp.maxbytes=6G",
        "-Dorg.bytedeco.javacpp.maxphysicalbytes=8G"));
    cmd.addAll(List.of(jvmArgs));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), MemoryChild.class.getName(), kind));
    if (file != null) {
      cmd.add(file.toString());
    }
    Path log = Files.createTempFile(tmp, kind, ".log");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    if (!p.waitFor(180, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(file + ": the child did not finish in 180 s");
    }
    String outcome = null;
    long peak = -1;
    for (String line : Files.readAllLines(log)) {
      if (line.startsWith("outcome ")) {
        outcome = line.substring(8);
      } else if (line.startsWith("peak_kib ")) {
        peak = Long.parseLong(line.substring(9)) << 10;
      }
    }
    assertNotNull(outcome, file + ": no outcome; child log:\n" + Files.readString(log));
    return new Outcome(outcome, peak);
  }

  @BeforeAll
  static void measureBaseline() throws Exception {
    long min = Long.MAX_VALUE;
    for (int i = 0; i < 2; i++) { // the lower of two: a baseline that came out high would loosen every check
      min = Math.min(min, child("baseline", null).peakBytes());
    }
    baseline = min;
  }

  static void within(String kind, Path file, long extraAllowance, String... jvmArgs) throws Exception {
    long n = Files.size(file);
    Outcome o = child(kind, file, jvmArgs);
    long grew = o.peakBytes() - baseline;
    long allowed = Math.max(FLOOR, K * n) + extraAllowance;
    System.out.printf("%s (%d bytes): %s; peak RSS +%d MiB over the baseline's %d MiB (allowed %d MiB)%n",
        file.getFileName(), n, o.outcome().length() > 160 ? o.outcome().substring(0, 160) : o.outcome(),
        grew >> 20, baseline >> 20, allowed >> 20);
    assertTrue(!o.outcome().startsWith("crash"), file + ": " + o.outcome());
    assertTrue(grew <= allowed, file + " (" + n + " bytes) raised peak RSS by " + (grew >> 20) + " MiB, more than "
        + (allowed >> 20) + " MiB; " + o.outcome());
  }

  // ------------------------------------------------------------------------------------------------ .pth

  @Test
  void strideZeroViewsOfATinyStorage() throws Exception {
    // one 12-float storage, viewed with stride 0 as just under 2^29 elements, once and four times (a 655-byte file
    // like this took 6.3 GiB, four views 13.6 GiB)
    long n = (1L << 29) - 1024;
    Path one = pth("stride0.pth", 12, new long[] {n}, new long[] {0}, 1);
    Path four = pth("stride0x4.pth", 12, new long[] {n}, new long[] {0}, 4);
    within("weights", one, 0);
    within("weights", four, 0);
  }

  @Test
  void aDeflatedStorageThatInflatesAThousandFold() throws Exception {
    // 2^26 floats (256 MiB) of zeros, deflated to about a quarter MiB
    within("weights", pthDeflated("deflated.pth", 1 << 26), 0);
  }

  // ------------------------------------------------------------------------------------------------ safetensors

  @Test
  void aHeaderOfManyEmptyTensors() throws Exception {
    StringBuilder h = new StringBuilder("{");
    for (int i = 0; i < 720_000; i++) { // a 40 MiB header (one of 100 MiB and 1.77 M entries once took 5.7 GiB)
      h.append(i == 0 ? "" : ",").append("\"t").append(i).append("\":{\"dtype\":\"F32\",\"shape\":[0],")
          .append("\"data_offsets\":[0,0]}");
    }
    h.append('}');
    within("weights", safetensors("empties.safetensors", h.toString(), 0), 0);
  }

  @Test
  void aWideFloat16File() throws Exception {
    long n = 32L << 20; // 32 Mi float16 values: 64 MiB of data, 128 MiB as float32
    String header = "{\"w\":{\"dtype\":\"F16\",\"shape\":[" + n + "],\"data_offsets\":[0," + 2 * n + "]}}";
    within("weights", safetensors("wide.safetensors", header, 2 * n), 0);
  }

  // ------------------------------------------------------------------------------------------------ .npy

  @Test
  void npyHeadersThatClaimMoreThanTheFileHolds() throws Exception {
    within("npy", npy("claims.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (600000000,), }", 64), 0);
    StringBuilder rank40 = new StringBuilder("{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < 40; i++) {
      rank40.append("1, ");
    }
    within("npy", npy("rank40.npy", rank40.append("), }").toString(), 4), 0);
  }

  // ------------------------------------------------------------------------------------------------ ONNX graphs

  @Test
  void graphsThatAllocateAtRunTime() throws Exception {
    String budget = "-Dgraft.onnx.maxIntermediateBytes=" + ONNX_BUDGET;
    long big = 600_000_000L;
    within("onnx-run", graph("expand.onnx", node("Expand", "x", "shape"), Graphs.longs("shape", big)), ONNX_BUDGET,
        budget);
    within("onnx-run", graph("constant_of_shape.onnx", node("Add", "c", "x"), Graphs.longs("shape", big),
        node("ConstantOfShape", "shape").setOutput(0, "c")), ONNX_BUDGET, budget);
    within("onnx-run", graph("tile.onnx", node("Tile", "x", "reps"), Graphs.longs("reps", big)), ONNX_BUDGET,
        budget);
    within("onnx-run", graph("pad.onnx", node("Pad", "x", "pads"), Graphs.longs("pads", 0, big)), ONNX_BUDGET,
        budget);
    Onnx.NodeProto.Builder pool = node("AveragePool", "x4").addAttribute(Graphs.ints("kernel_shape", 1, 1))
        .addAttribute(Graphs.ints("pads", 1L << 30, 1L << 30, 1L << 30, 1L << 30));
    within("onnx-run", graph("avgpool_pads.onnx", pool), ONNX_BUDGET, budget);
    // a negative-step Slice over 30 M elements, within the budget: it runs (it once built a list of 30 M boxed
    // indices, 1.5 GB of heap), and one over 200 M elements, refused by the budget at the Expand
    within("onnx-run", graph("slice_reverse.onnx", node("Slice", "e", "starts", "ends", "axes", "steps"),
        node("Expand", "x", "eshape").setOutput(0, "e"), Graphs.longs("eshape", 30_000_000L),
        Graphs.longs("starts", -1), Graphs.longs("ends", Long.MIN_VALUE), Graphs.longs("axes", 0),
        Graphs.longs("steps", -1)), ONNX_BUDGET, budget);
    within("onnx-run", graph("slice_reverse_big.onnx", node("Slice", "e", "starts", "ends", "axes", "steps"),
        node("Expand", "x", "eshape").setOutput(0, "e"), Graphs.longs("eshape", 200_000_000L),
        Graphs.longs("starts", -1), Graphs.longs("ends", Long.MIN_VALUE), Graphs.longs("axes", 0),
        Graphs.longs("steps", -1)), ONNX_BUDGET, budget);
    long[] r40 = new long[40];
    java.util.Arrays.fill(r40, 1);
    r40[39] = 4;
    within("onnx-run", graph("rank40.onnx", node("Softmax", "r"), node("Reshape", "x", "rshape").setOutput(0, "r"),
        Graphs.longs("rshape", r40)), ONNX_BUDGET, budget);
  }

  // ------------------------------------------------------------------------------------------------ crafting

  /** A zip .pth of {@code views} tensors, each a view of one float storage of {@code storageFloats} zeros. */
  static Path pth(String name, int storageFloats, long[] size, long[] stride, int views) throws IOException {
    PthFiles f = new PthFiles();
    PthFiles.Storage s = PthFiles.zeros("0", storageFloats);
    for (int v = 0; v < views; v++) {
      f.add("w" + v, s, 0, size, stride);
    }
    return Files.write(tmp.resolve(name), f.zip());
  }

  /** A .pth of one tensor over a storage of {@code floats} zeros, its entries deflated. */
  static Path pthDeflated(String name, int floats) throws IOException {
    return Files.write(tmp.resolve(name), new PthFiles().add("w", PthFiles.zeros("0", floats), 0,
        new long[] {floats}, new long[] {1}).zip(true, null));
  }

  static Path safetensors(String name, String header, long dataBytes) throws IOException {
    Path p = tmp.resolve(name);
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    try (OutputStream out = Files.newOutputStream(p)) {
      out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
      out.write(h);
      byte[] chunk = new byte[1 << 20];
      for (long done = 0; done < dataBytes; done += chunk.length) {
        out.write(chunk, 0, (int) Math.min(chunk.length, dataBytes - done));
      }
    }
    return p;
  }

  static Path npy(String name, String header, int dataBytes) throws IOException {
    Path p = tmp.resolve(name);
    StringBuilder h = new StringBuilder(header);
    while ((10 + h.length() + 1) % 64 != 0) {
      h.append(' ');
    }
    h.append('\n');
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.writeBytes(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
    b.writeBytes(ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) h.length()).array());
    b.writeBytes(h.toString().getBytes(StandardCharsets.US_ASCII));
    b.writeBytes(new byte[dataBytes]);
    Files.write(p, b.toByteArray());
    return p;
  }

  static Onnx.NodeProto.Builder node(String op, String... inputs) {
    Onnx.NodeProto.Builder n = Onnx.NodeProto.newBuilder().setOpType(op).setName(op.toLowerCase());
    for (String i : inputs) {
      n.addInput(i);
    }
    return n.addOutput("y");
  }

  /**
   * A graph whose first node computes the output "y"; its inputs are "x" (float [1]) and "x4" (float [1,1,1,1]) when
   * a node reads them, the rest come from initializers or earlier nodes (listed after the first, run in order).
   */
  static Path graph(String name, Onnx.NodeProto.Builder last, Object... rest) throws IOException {
    Onnx.GraphProto.Builder g = Onnx.GraphProto.newBuilder().setName(name);
    List<Onnx.NodeProto> nodes = new ArrayList<>();
    for (Object o : rest) {
      if (o instanceof Onnx.TensorProto t) {
        g.addInitializer(t);
      } else {
        nodes.add(((Onnx.NodeProto.Builder) o).build());
      }
    }
    nodes.add(last.build());
    g.addAllNode(nodes);
    boolean usesX = false;
    boolean usesX4 = false;
    for (Onnx.NodeProto n : nodes) {
      usesX |= n.getInputList().contains("x");
      usesX4 |= n.getInputList().contains("x4");
    }
    if (usesX) {
      g.addInput(Graphs.input("x", 1, 1));
    }
    if (usesX4) {
      g.addInput(Graphs.input("x4", 1, 1, 1, 1, 1));
    }
    g.addOutput(Onnx.ValueInfoProto.newBuilder().setName("y"));
    return Graphs.save(tmp.resolve(name), g, 13);
  }

}
