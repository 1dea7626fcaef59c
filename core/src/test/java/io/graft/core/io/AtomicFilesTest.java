package io.graft.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
  @TempDir
  Path tmp;

  private static boolean posix(Path p) {
    return p.getFileSystem().supportedFileAttributeViews().contains("posix");
  }

  @Test
  void theWrittenFileHonoursTheUmaskAsAPlainNewFileDoes() throws Exception {
    assumeTrue(posix(tmp), "POSIX permissions");
    Path plain = tmp.resolve("plain.bin");
    try (OutputStream o = Files.newOutputStream(plain)) {
      o.write(1);
    }
    Set<PosixFilePermission> expected = Files.getPosixFilePermissions(plain); // 0666 & ~umask
    Path target = tmp.resolve("out.bin");
    AtomicFiles.write(target, o -> o.write(new byte[] {1, 2, 3}));
    assertEquals(PosixFilePermissions.toString(expected),
        PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
    // a replaced file too
    AtomicFiles.write(target, o -> o.write(new byte[] {4}));
    assertEquals(PosixFilePermissions.toString(expected),
        PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
    assertArrayEquals(new byte[] {4}, Files.readAllBytes(target));
    // under the usual umask (022) that is rw-r--r--, not the owner-only rw------- of a temporary file
    if (expected.contains(PosixFilePermission.OTHERS_READ)) {
      assertTrue(Files.getPosixFilePermissions(target).contains(PosixFilePermission.OTHERS_READ));
    }
    try (Stream<Path> left = Files.list(tmp)) {
      assertEquals(List.of("out.bin", "plain.bin"), left.map(p -> p.getFileName().toString()).sorted().toList(),
          "no temporary file is left behind");
    }
  }

  @Test
  void aTemporaryFileOfADeadWriterIsCleanedAndOneOfALiveWriterIsKept() throws Exception {
    Path target = tmp.resolve("w.safetensors");
    Path dead = Files.createFile(tmp.resolve(".w.safetensors." + Long.MAX_VALUE + ".123.tmp"));
    Path live = Files.createFile(tmp.resolve(".w.safetensors." + ProcessHandle.current().pid() + ".456.tmp"));
    AtomicFiles.write(target, o -> o.write(7));
    assertTrue(Files.notExists(dead));
    assertTrue(Files.exists(live));
    assertArrayEquals(new byte[] {7}, Files.readAllBytes(target));
  }
}
