package io.graft.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Tensor;
import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

class FileBytesTest {
  @TempDir Path dir;

  @Test
  void smallRegionsAreHeapCopiesAndLargeOnesAreMapped() throws Exception {
    byte[] bytes = new byte[(int) FileBytes.MAP_THRESHOLD + 10];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = (byte) (i * 31);
    }
    Path p = dir.resolve("f.bin");
    Files.write(p, bytes);
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
      ByteBuffer small = FileBytes.read(ch, 5, 1000);
      assertFalse(small.isDirect());
      assertEquals(0, small.position());
      assertEquals(1000, small.remaining());
      byte[] got = new byte[1000];
      small.get(got);
      byte[] want = new byte[1000];
      System.arraycopy(bytes, 5, want, 0, 1000);
      assertArrayEquals(want, got);

      ByteBuffer large = FileBytes.read(ch, 10, FileBytes.MAP_THRESHOLD);
      assertTrue(large.isDirect());
      assertEquals(bytes[10 + 12345], large.get(12345));

      EOFException eof = assertThrows(EOFException.class, () -> FileBytes.read(ch, bytes.length - 4, 8));
      assertTrue(eof.getMessage().contains("file ends at byte " + bytes.length), eof.getMessage());
    }
  }

  /** The CI failure this guards against: a fuzzer's 96,000 small reads exhausted vm.max_map_count before a GC. */
  @Test
  @EnabledOnOs(OS.LINUX)
  void readingManySmallFilesLeavesNoMappingsBehind() throws Exception {
    Path p = dir.resolve("t.npy");
    Npy.write(p, Tensor.fromArray(new float[] {1, 2, 3}, 3));
    Path st = dir.resolve("t.safetensors");
    io.graft.core.StateDict sd = new io.graft.core.StateDict();
    sd.put("w", Tensor.fromArray(new float[] {1, 2}, 2));
    Safetensors.write(st, sd, null);
    long before = mappings();
    for (int i = 0; i < 2000; i++) {
      Npy.read(p);
      Safetensors.open(st).entries();
    }
    long grown = mappings() - before;
    assertTrue(grown < 200, "4,000 reads of small files left " + grown + " new memory mappings");
  }

  private static long mappings() throws Exception {
    try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
      return lines.count();
    }
  }
}
