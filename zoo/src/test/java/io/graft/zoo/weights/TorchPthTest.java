package io.graft.zoo.weights;

import static io.graft.testing.TensorAssert.assertIdentical;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.GraftException;
import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.testing.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;

class TorchPthTest {
  @TempDir
  Path tmp;

  static Path resource(String name) {
    try {
      return Paths.get(TorchPthTest.class.getResource("/fixtures/zoo/" + name).toURI());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void everyDtypeNonContiguousAndSharedStorageTensorsReadCorrectly() {
    StateDict sd = TorchPth.read(resource("edge.pth"));
    Safetensors.File expected = Fixtures.load("fixtures/zoo/edge.expected.safetensors");
    // {"state_dict": {"module.*": ...}, "epoch": 3} is unwrapped and the DataParallel prefix stripped
    for (Safetensors.Entry e : expected.entries()) {
      Tensor actual = sd.get(e.name());
      assertTrue(actual != null, "missing " + e.name() + " in " + sd.keys());
      Tensor exp = expected.tensor(e.name());
      assertArrayEquals(exp.shape(), actual.shape(), e.name());
      assertArrayEquals(exp.toDoubleArray(), actual.toDoubleArray(), e.name());
    }
    assertEquals(DataType.LONG, sd.get("i64").dtype());
    assertEquals(DataType.INT, sd.get("i32").dtype());
    assertEquals(DataType.BOOL, sd.get("bool").dtype());
    assertEquals(DataType.DOUBLE, sd.get("f64").dtype());
    assertEquals(0, sd.get("scalar").rank());
    assertArrayEquals(new long[] {0, 3}, sd.get("empty").shape());
    assertIdentical(sd.get("shared_slice"), expected.tensor("shared_slice"), "view into a shared storage");
  }

  /** Half-precision tensors are widened for computing, but their stored dtype is known and restored exactly. */
  @Test
  void storedDtypesAreReportedAndHalfPrecisionComesBackExactly() throws Exception {
    Weights.Stored st = Weights.readStored(resource("edge.pth"));
    assertEquals("F16", st.dtypes().get("f16"));
    assertEquals("BF16", st.dtypes().get("bf16"));
    assertEquals("I64", st.dtypes().get("i64"));
    assertEquals("F32", st.dtypes().get("transposed"));
    assertEquals(DataType.FLOAT, st.tensors().get("f16").dtype(), "computed in float32");
    StateDict asStored = st.asStored();
    assertEquals(DataType.HALF, asStored.get("f16").dtype());
    assertEquals(DataType.BFLOAT16, asStored.get("bf16").dtype());
    Path out = tmp.resolve("edge.safetensors");
    Safetensors.write(out, asStored, Map.of());
    Weights.Stored back = Weights.readStored(out);
    assertEquals(st.dtypes(), back.dtypes(), "a safetensors copy keeps every dtype");
    for (String k : new String[] {"f16", "bf16"}) {
      assertArrayEquals(st.tensors().get(k).toDoubleArray(), back.tensors().get(k).toDoubleArray(), k);
    }
  }

  @TestFactory
  Stream<DynamicTest> codeInPicklesIsRefusedBeforeAnythingRuns() {
    Map<String, String> files = Map.of("os_system.pth", "system", "builtins_eval.pth", "_.eval",
        "subprocess_popen.pth", "subprocess.Popen", "nested_reduce.pth", "_.exec", "legacy_os_system.pth",
        "system");
    return files.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(), () -> {
      GraftException ex = assertThrows(GraftException.class, () -> TorchPth.read(resource("hostile/" + e.getKey())));
      // protocol 2 spells builtins "__builtin__": match the name after the module
      String needle = e.getValue().startsWith("_.") ? e.getValue().substring(1) : e.getValue();
      assertTrue(ex.getMessage().contains("refusing to load") && ex.getMessage().contains(needle), ex.getMessage());
    }));
  }

  @Test
  void storageSmallerThanItsTensorIsAClearError() {
    GraftException e = assertThrows(GraftException.class, () -> TorchPth.read(resource("hostile/short_storage.pth")));
    assertTrue(e.getMessage().contains("storage") && e.getMessage().contains("bytes"), e.getMessage());
    GraftException v = assertThrows(GraftException.class,
        () -> TorchPth.read(resource("hostile/view_past_storage.pth")));
    assertTrue(v.getMessage().contains("'w'") && v.getMessage().contains("reaches element"), v.getMessage());
  }

  /** Declared sizes whose byte counts overflow a long are refused by name, not wrapped into small numbers. */
  @Test
  void sizesThatOverflowAreClearErrors() {
    GraftException s = assertThrows(GraftException.class, () -> TorchPth.read(resource("hostile/huge_storage.pth")));
    assertTrue(s.getMessage().contains("storage '0' declares 4611686018427387904"), s.getMessage());
    GraftException v = assertThrows(GraftException.class, () -> TorchPth.read(resource("hostile/stride0_huge.pth")));
    assertTrue(v.getMessage().contains("'w'") && v.getMessage().contains("4611686018427387904"), v.getMessage());
  }

  @Test
  void truncatedAndForeignFilesAreClearErrors() throws Exception {
    byte[] good = Files.readAllBytes(resource("resnet18.pth"));
    for (int cut : new int[] {10, 1000, good.length / 2, good.length - 30}) {
      Path p = tmp.resolve("cut" + cut + ".pth");
      Files.write(p, Arrays.copyOf(good, cut));
      GraftException e = assertThrows(GraftException.class, () -> TorchPth.read(p), "cut at " + cut);
      assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
    }
    byte[] legacy = Files.readAllBytes(resource("resnet18_legacy.pth"));
    for (int cut : new int[] {3, 40, 2000, legacy.length - 100}) {
      Path p = tmp.resolve("legacy" + cut + ".pth");
      Files.write(p, Arrays.copyOf(legacy, cut));
      assertThrows(GraftException.class, () -> TorchPth.read(p), "legacy cut at " + cut);
    }
    Path text = tmp.resolve("notes.pth");
    Files.writeString(text, "hello, not a checkpoint");
    GraftException e = assertThrows(GraftException.class, () -> TorchPth.read(text));
    assertTrue(e.getMessage().contains("not a PyTorch file"), e.getMessage());
    assertThrows(GraftException.class, () -> TorchPth.read(tmp.resolve("missing.pth")));
    Path empty = tmp.resolve("empty.pth");
    Files.write(empty, new byte[0]);
    assertThrows(GraftException.class, () -> TorchPth.read(empty));
  }

  @Test
  void zipEntryNamesAndCommentsThatAreNotUtf8AreClearErrors() throws Exception {
    // Found by the fuzzer in CI: java.util.zip decodes entry comments lazily and rejects malformed UTF-8 with an
    // IllegalArgumentException. Build a torch-like archive whose entry comment and (separately) name are invalid.
    for (String part : new String[] {"comment", "name"}) {
      java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
      try (java.util.zip.ZipOutputStream out = new java.util.zip.ZipOutputStream(bytes)) {
        java.util.zip.ZipEntry e = new java.util.zip.ZipEntry("archive/data.pkl");
        e.setComment("QQQQ");
        out.putNextEntry(e);
        out.write(new byte[] {(byte) 0x80, 2, '}', '.'});
        out.closeEntry();
      }
      byte[] zip = bytes.toByteArray();
      String marker = part.equals("comment") ? "QQQQ" : "data.pkl";
      int patched = 0;
      for (int i = 0; i + marker.length() <= zip.length; i++) {
        if (new String(zip, i, marker.length(), java.nio.charset.StandardCharsets.ISO_8859_1).equals(marker)) {
          zip[i + 1] = (byte) 0xFF;
          patched++;
        }
      }
      assertTrue(patched >= 1, part);
      Path p = tmp.resolve("bad" + part + ".pth");
      Files.write(p, zip);
      GraftException e = assertThrows(GraftException.class, () -> TorchPth.read(p), part);
      assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
    }
  }

  private Path write(String name, byte[] bytes) throws Exception {
    Path p = tmp.resolve(name);
    Files.write(p, bytes);
    return p;
  }

  private void assertRefused(Path p, String... fragments) {
    GraftException e = assertThrows(GraftException.class, () -> TorchPth.read(p), p.toString());
    assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), e.getMessage());
    }
  }

  /**
   * A 12-float storage viewed with stride 0 as 2^29 - 64 elements: a file of a few hundred bytes that built a 2 GiB
   * tensor (6.3 GiB peak, 15-26 s). Views are materialised, so they may expand storages only within
   * {@link TorchPth#MAX_VIEW_EXPANSION} (plus {@link TorchPth#VIEW_ALLOWANCE}); a small broadcast stays accepted.
   */
  @Test
  void viewsThatExpandTheirStorageBeyondTheBoundAreRefused() throws Exception {
    PthFiles.Storage s = PthFiles.floats("0", new float[12]);
    long huge = (1L << 29) - 64;
    Path one = write("stride0.pth", new PthFiles().add("w", s, 0, new long[] {huge}, new long[] {0}).zip());
    assertRefused(one, "tensor 'w'", "views may not expand storages");
    PthFiles four = new PthFiles();
    for (int i = 0; i < 4; i++) {
      four.add("w" + i, s, 0, new long[] {(1L << 26) + 64}, new long[] {0}); // the fourth crosses 1 GiB
    }
    assertRefused(write("stride0x4.pth", four.zip()), "tensor 'w3'", "views may not expand storages");
    PthFiles.Storage v = PthFiles.floats("1", 1.5f, 2.5f);
    StateDict ok = TorchPth.read(write("broadcast.pth", new PthFiles()
        .add("bias", v, 1, new long[] {3, 1000}, new long[] {0, 0})
        .add("tied_a", v, 0, new long[] {2}, new long[] {1})
        .add("tied_b", v, 0, new long[] {2}, new long[] {1}).zip()));
    assertEquals(3000, ok.get("bias").numel());
    assertEquals(2.5, ok.get("bias").toDoubleArray()[2999]);
    assertArrayEquals(new double[] {1.5, 2.5}, ok.get("tied_b").toDoubleArray());
  }

  /** Negative strides are refused by name, as torch refuses them (they were read backwards through the storage). */
  @Test
  void negativeStridesAreRefused() throws Exception {
    PthFiles.Storage s = PthFiles.floats("0", 1, 2, 3);
    PthFiles f = new PthFiles().add("rev", s, 2, new long[] {3}, new long[] {-1});
    assertRefused(write("neg.pth", f.zip()), "tensor 'rev'", "negative stride");
    assertRefused(write("neg_legacy.pth", f.legacy()), "tensor 'rev'", "negative stride");
  }

  /** Rank above 32 is refused before anything is built, naming the tensor, in zip and legacy files alike. */
  @Test
  void rankAbove32IsRefusedInZipAndLegacyFiles() throws Exception {
    PthFiles.Storage s = PthFiles.floats("0", 7);
    for (int rank : new int[] {40, 100}) {
      long[] size = new long[rank];
      long[] stride = new long[rank];
      Arrays.fill(size, 1);
      Arrays.fill(stride, 1);
      PthFiles f = new PthFiles().add("deep", s, 0, size, stride);
      assertRefused(write("deep" + rank + ".pth", f.zip()), "tensor 'deep'", "exceeds the maximum of 32");
      assertRefused(write("deep" + rank + "_legacy.pth", f.legacy()), "tensor 'deep'", "exceeds the maximum of 32");
    }
    // the crafted files themselves are well formed: the same tensor at rank 3 reads
    PthFiles f = new PthFiles().add("deep", s, 0, new long[] {1, 1, 1}, new long[] {1, 1, 1});
    assertEquals(7.0, TorchPth.read(write("rank3.pth", f.zip())).get("deep").toDoubleArray()[0]);
    assertEquals(7.0, TorchPth.read(write("rank3_legacy.pth", f.legacy())).get("deep").toDoubleArray()[0]);
  }

  /**
   * Deflated entries (torch stores them; other zip tools may compress) are read, but inflate to at most
   * {@link TorchPth#MAX_INFLATE_RATIO} x the file's size + {@link TorchPth#INFLATE_ALLOWANCE} in all: 80 MiB of zeros
   * in a file of 80 KiB is refused before anything is inflated (a 2 GiB storage in 2 MB took 9 GiB).
   */
  @Test
  void compressedEntriesInflateOnlyWithinTheirBound() throws Exception {
    PthFiles.Storage s = PthFiles.floats("0", 1, 2, 3, 4, 5, 6);
    StateDict small = TorchPth.read(write("deflated.pth",
        new PthFiles().add("w", s, 0, new long[] {2, 3}, new long[] {1, 2}).zip(true, null)));
    assertArrayEquals(new double[] {1, 3, 5, 2, 4, 6}, small.get("w").toDoubleArray());
    long numel = 20L << 20; // 80 MiB of float32 zeros
    Path bomb = write("bomb.pth",
        new PthFiles().add("w", PthFiles.zeros("0", numel), 0, new long[] {numel}, new long[] {1}).zip(true, null));
    assertTrue(Files.size(bomb) < 1 << 20, "compresses well: " + Files.size(bomb));
    assertRefused(bomb, "when inflated", "x the file's size");
    // the same storage stored uncompressed is a plain (large) file and reads
    Path stored = write("stored.pth",
        new PthFiles().add("w", PthFiles.zeros("0", numel), 0, new long[] {numel}, new long[] {1}).zip(false, null));
    assertEquals(numel, TorchPth.read(stored).get("w").numel());
  }

  /** A compressed entry whose declared size is smaller than its content is cut at the declared size and refused. */
  @Test
  void compressedEntryLongerThanDeclaredIsRefused() throws Exception {
    PthFiles.Storage s = new PthFiles.Storage("0", "FloatStorage", 4, new byte[1 << 20]);
    byte[] zip = new PthFiles().add("w", s, 0, new long[] {4}, new long[] {1}).zip(true, java.util.Map.of("0", 16L));
    assertRefused(write("liar.pth", zip), "larger than declared");
  }

  @Test
  void zipAndLegacyFormatsAgree() {
    StateDict zip = TorchPth.read(resource("mobilenet_v2.pth"));
    StateDict legacy = TorchPth.read(resource("mobilenet_v2_legacy.pth"));
    assertEquals(zip.keyList(), legacy.keyList());
    for (Map.Entry<String, Tensor> e : zip) {
      assertIdentical(legacy.get(e.getKey()), e.getValue(), e.getKey());
    }
    assertFalse(zip.isEmpty());
  }
}
