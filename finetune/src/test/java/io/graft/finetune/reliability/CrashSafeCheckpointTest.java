package io.graft.finetune.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.CrashPoint;
import io.graft.core.io.Safetensors;
import io.graft.finetune.train.Checkpoint;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A training process killed with SIGKILL while a checkpoint is being written — before the write, with the new
 * checkpoint half written in its temporary file, and right after the rename — always leaves a loadable checkpoint
 * of exactly the expected epoch, and resuming from it ends with exactly the weights of an uninterrupted run.
 *
 * <p>Deterministic: the child process stops itself at a {@link CrashPoint} the test names (and the arrival it
 * chooses), announces it in a file, and waits there; the test kills it only then. No sleep decides anything, so
 * machine load cannot change the outcome; to show it, every round runs with a busy-looping thread per core beside
 * it. Rounds: {@code -Dgraft.crashtest.repeats=N} (default 2; the proof ran 20).
 */
class CrashSafeCheckpointTest {
  static final int EPOCHS = 8;

  /** Where each child stops: the crash point, arrivals to let pass, and the checkpoint epoch (0-based) left on disk. */
  record Kill(String point, int skip, int epochOnDisk, boolean tornTemp) {}

  static final List<Kill> KILLS = List.of(
      new Kill("safetensors.mid-write", 2, 1, true),    // epochs 0, 1 written; epoch 2's file half written
      new Kill("checkpoint.before-write", 1, 2, false), // resumed at 2, wrote 2, stopped before writing 3
      new Kill("checkpoint.after-write", 0, 3, false),  // resumed at 3, stopped just after 3 was renamed in place
      new Kill("safetensors.mid-write", 0, 3, true));   // resumed at 4, stopped with 4 half written

  @TempDir
  Path tmp;

  Process child(Path dir, Path ckpt, Path out, Kill kill) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx1g"));
    if (kill != null) {
      cmd.add("-D" + CrashPoint.PROPERTY + "=" + kill.point() + "," + dir + "," + kill.skip());
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), CheckpointChild.class.getName(),
        ckpt.toString(), String.valueOf(EPOCHS)));
    if (out != null) {
      cmd.add(out.toString());
    }
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile())
        .start();
  }

  /** Waits (as long as the child lives; a 5-minute guard against a hang) for the child to reach its crash point. */
  static void awaitCrashPoint(Process p, Path flag, Path log) throws Exception {
    long guard = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    while (!Files.exists(flag)) {
      if (p.waitFor(20, TimeUnit.MILLISECONDS)) {
        fail("the child exited (" + p.exitValue() + ") before reaching " + flag.getFileName() + ": "
            + Files.readString(log));
      }
      if (System.nanoTime() > guard) {
        p.destroyForcibly();
        fail("the child did not reach " + flag.getFileName() + " in 5 minutes: " + Files.readString(log));
      }
    }
  }

  @Test
  void killedWritersLeaveALoadableCheckpointAndResumeExactly() throws Exception {
    int repeats = Integer.getInteger("graft.crashtest.repeats", 2);
    StateDict reference = CheckpointChild.train(null, EPOCHS);
    int cores = Runtime.getRuntime().availableProcessors();
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> load = new ArrayList<>();
    for (int c = 0; c < cores; c++) {
      Thread t = new Thread(() -> {
        long x = 0;
        while (!stop.get()) {
          x = x * 6364136223846793005L + 1442695040888963407L;
        }
        if (x == 42) {
          System.out.print("");
        }
      }, "busy-" + c);
      t.setDaemon(true);
      t.start();
      load.add(t);
    }
    int kills = 0;
    int midWrite = 0;
    int loadsAfterKill = 0;
    long t0 = System.nanoTime();
    try {
      for (int round = 0; round < repeats; round++) {
        Path dir = Files.createDirectory(tmp.resolve("round" + round));
        Path ckpt = dir.resolve("run.ckpt");
        for (Kill k : KILLS) {
          Path flag = dir.resolve(k.point() + ".reached");
          Files.deleteIfExists(flag);
          Process p = child(dir, ckpt, null, k);
          awaitCrashPoint(p, flag, dir.resolve("child.log"));
          p.destroyForcibly(); // SIGKILL on Linux
          p.waitFor();
          kills++;
          String[] temps = dir.toFile().list((d, n) -> n.startsWith(".run.ckpt.") && n.endsWith(".tmp"));
          boolean torn = temps != null && temps.length > 0;
          if (k.tornTemp()) {
            assertTrue(torn, "round " + round + ", " + k + ": the half-written temporary file is there");
            midWrite++;
          }
          // the checkpoint on disk is complete and exactly the expected epoch; it restores model and optimizer
          CheckpointChild.Run fresh = CheckpointChild.fresh();
          Checkpoint.Restored r = Checkpoint.load(ckpt, fresh.model(), fresh.optimizer(), null, null);
          assertEquals(k.epochOnDisk(), r.epoch(), "round " + round + ", " + k);
          loadsAfterKill++;
        }
        Path out = dir.resolve("final.safetensors");
        Process last = child(dir, ckpt, out, null);
        assertTrue(last.waitFor(5, TimeUnit.MINUTES), "resumed run finished");
        assertEquals(0, last.exitValue(), Files.readString(dir.resolve("child.log")));
        StateDict resumed = Safetensors.read(out);
        for (Map.Entry<String, Tensor> e : reference) {
          assertArrayEquals(e.getValue().toDoubleArray(), resumed.get(e.getKey()).toDoubleArray(),
              "round " + round + ": " + e.getKey());
        }
      }
    } finally {
      stop.set(true);
      for (Thread t : load) {
        t.join();
      }
    }
    System.out.printf("crash-safe checkpoints: %d rounds under %d busy-loop threads, %d SIGKILLs at crash points (%d "
        + "with a checkpoint half written), %d checkpoints loaded after a kill at the expected epoch, every resumed "
        + "run bit-identical to the uninterrupted one; %.1f s%n", repeats, cores, kills, midWrite, loadsAfterKill,
        (System.nanoTime() - t0) / 1e9);
    assertEquals(repeats * KILLS.size(), loadsAfterKill, "checkpoints were restored after kills");
    File[] leftovers = tmp.toFile().listFiles((d, n) -> n.endsWith(".tmp"));
    System.out.println("temporary files left by killed writes at the top level: "
        + (leftovers == null ? 0 : leftovers.length));
  }
}
