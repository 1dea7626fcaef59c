package io.graft.core.io;

import io.graft.core.GraftException;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;

/**
 * Crash-safe output: the content goes to a temporary file in the target's directory, is forced to disk,
 * and only then atomically renamed over the target. A crash at any moment leaves either the old file or
 * the new one, never a torn one.
 *
 * <p>The written file has the permissions of any newly created file ({@code 0666 & ~umask} on POSIX, as
 * {@code Files.newOutputStream} or {@code open(2)} gives), not the owner-only ones of {@code Files.createTempFile}:
 * the temporary file is created as a plain new file ({@code CREATE_NEW}) and renamed.
 *
 * <p>The temporary file is named {@code .<target name>.<pid>.<random>.tmp}. A write killed before its rename leaves
 * it behind; the next write of the same target (or {@link #cleanStale}) deletes those whose process is no longer
 * alive, and never one that a live process may still be writing.
 */
public final class AtomicFiles {
  private static final SecureRandom RANDOM = new SecureRandom();

  private AtomicFiles() {}

  /**
   * Writes {@code body} to {@code target} atomically (temporary file, forced to disk, renamed over the target),
   * creating missing parent directories; throws {@link GraftException} naming the target if it is a directory or the
   * write fails.
   */
  public static void write(Path target, Safetensors.Body body) {
    Path abs = target.toAbsolutePath();
    Path dir = abs.getParent();
    Path tmp = null;
    try {
      if (dir != null) {
        Files.createDirectories(dir);
      }
      if (Files.isDirectory(abs)) {
        throw new GraftException(target + ": cannot write: it is a directory");
      }
      cleanStale(abs);
      while (tmp == null) {
        Path candidate = dir.resolve(prefix(abs) + ProcessHandle.current().pid() + "."
            + Long.toUnsignedString(RANDOM.nextLong()) + ".tmp");
        try {
          tmp = Files.createFile(candidate); // a plain new file: 0666 & ~umask, as the target should be
        } catch (FileAlreadyExistsException e) {
          // another write drew the same name: draw again
        }
      }
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE);
           OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16)) {
        body.writeTo(out);
        out.flush();
        ch.force(true);
      }
      try {
        Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
      }
      tmp = null;
    } catch (IOException e) {
      throw new GraftException(target + ": cannot write: " + reason(e), e);
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // the temporary file is left behind; the target is untouched
        }
      }
    }
  }

  private static String prefix(Path abs) {
    return "." + abs.getFileName() + ".";
  }

  /**
   * Deletes the temporary files that killed writes of {@code target} left in its directory: those named by
   * {@link #write} for this target whose writer process has ended. Returns how many were deleted.
   */
  public static int cleanStale(Path target) {
    Path abs = target.toAbsolutePath();
    Path dir = abs.getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      return 0;
    }
    String prefix = prefix(abs);
    int deleted = 0;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, p -> {
      String n = p.getFileName().toString();
      return n.startsWith(prefix) && n.endsWith(".tmp");
    })) {
      for (Path p : ds) {
        String rest = p.getFileName().toString().substring(prefix.length());
        int dot = rest.indexOf('.');
        long pid;
        try {
          pid = Long.parseLong(dot < 0 ? "" : rest.substring(0, dot));
        } catch (NumberFormatException e) {
          continue; // not named by this writer
        }
        if (ProcessHandle.of(pid).isEmpty() && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)
            && Files.deleteIfExists(p)) {
          deleted++;
        }
      }
    } catch (IOException e) {
      return deleted; // cleaning is best effort: the write itself reports real I/O problems
    }
    return deleted;
  }

  /**
   * Creates an output directory (and its parents), or confirms it exists: a path naming an existing file is a
   * clear error, not a stack trace. {@code what} names the option, e.g. {@code --out}.
   */
  public static Path directory(Path dir, String what) {
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new GraftException(what + " " + dir + ": exists and is not a directory");
    }
    try {
      return Files.createDirectories(dir);
    } catch (IOException e) {
      throw new GraftException(what + " " + dir + ": cannot create the directory: " + reason(e), e);
    }
  }

  /** What went wrong, in words (the file system exceptions' own messages are often the bare path). */
  static String reason(IOException e) {
    String what = e instanceof java.nio.file.NoSuchFileException ? "no such file or directory"
        : e instanceof java.nio.file.AccessDeniedException ? "permission denied"
        : e instanceof java.nio.file.FileAlreadyExistsException ? "a file is in the way"
        : e instanceof java.nio.file.NotDirectoryException ? "not a directory"
        : e instanceof java.nio.file.FileSystemException f && f.getReason() != null ? f.getReason() : null;
    return what == null ? String.valueOf(e.getMessage()) : what + " (" + e.getMessage() + ")";
  }
}
