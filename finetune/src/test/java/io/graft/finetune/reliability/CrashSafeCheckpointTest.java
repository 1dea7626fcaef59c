package io.graft.finetune.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.StateDict;
import io.graft.core.Tensor;
import io.graft.core.io.Safetensors;
import io.graft.core.random.Rng;
import io.graft.finetune.train.Checkpoint;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A training process killed with SIGKILL — at random moments, and while a checkpoint is being written (the moment
 * the writer's temporary file appears) — always leaves a loadable checkpoint, and resuming from it ends with exactly
 * the weights of an uninterrupted run.
 */
class CrashSafeCheckpointTest {
  static final int EPOCHS = 1000;

  @TempDir
  Path tmp;

  Process child(Path ckpt, Path out) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx1g", "-cp", System.getProperty("java.class.path"), CheckpointChild.class.getName(), ckpt.toString(),
        String.valueOf(EPOCHS)));
    if (out != null) {
      cmd.add(out.toString());
    }
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("child.log").toFile())
        .start();
  }

  @Test
  void killedWritersLeaveALoadableCheckpointAndResumeExactly() throws Exception {
    StateDict reference = CheckpointChild.train(null, EPOCHS);
    Path ckpt = tmp.resolve("run.ckpt");
    Rng rng = new Rng(2026);
    int kills = 0;
    int midWrite = 0;
    int loadsAfterKill = 0;
    for (int k = 0; k < 6; k++) {
      Process p = child(ckpt, null);
      if (k % 2 == 0) {
        // kill while a checkpoint is being written: as soon as the writer's temporary file appears
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20) + rng.nextInt(1000) * 1_000_000L;
        boolean seen = false;
        while (!seen && p.isAlive() && System.nanoTime() < deadline) {
          String[] names = tmp.toFile().list((d, n) -> n.startsWith(".run.ckpt.") && n.endsWith(".tmp"));
          seen = names != null && names.length > 0;
        }
        if (!p.isAlive()) {
          break;
        }
        midWrite += seen ? 1 : 0;
      } else if (p.waitFor(2200 + rng.nextInt(1200), TimeUnit.MILLISECONDS)) {
        break; // finished before the kill
      }
      p.destroyForcibly(); // SIGKILL on Linux
      p.waitFor();
      kills++;
      if (Files.exists(ckpt)) {
        // whatever moment the kill hit, the checkpoint on disk is complete: it restores model and optimizer
        CheckpointChild.Run fresh = CheckpointChild.fresh();
        Checkpoint.Restored r = Checkpoint.load(ckpt, fresh.model(), fresh.optimizer(), null, null);
        assertTrue(r.epoch() >= 0 && r.epoch() < EPOCHS, "epoch " + r.epoch());
        loadsAfterKill++;
      }
    }
    Path out = tmp.resolve("final.safetensors");
    Process last = child(ckpt, out);
    assertTrue(last.waitFor(5, TimeUnit.MINUTES), "resumed run finished");
    assertEquals(0, last.exitValue(), Files.readString(tmp.resolve("child.log")));
    StateDict resumed = Safetensors.read(out);
    for (Map.Entry<String, Tensor> e : reference) {
      assertArrayEquals(e.getValue().toDoubleArray(), resumed.get(e.getKey()).toDoubleArray(), e.getKey());
    }
    System.out.printf("crash-safe checkpoints: %d SIGKILLs (%d while a checkpoint was being written), %d checkpoints "
        + "loaded after a kill%n", kills, midWrite, loadsAfterKill);
    assertTrue(kills >= 4 && midWrite >= 2, "kills: " + kills + ", mid-write: " + midWrite);
    File[] leftovers = tmp.toFile().listFiles((d, n) -> n.endsWith(".tmp"));
    System.out.println("temporary files left by killed writes: " + (leftovers == null ? 0 : leftovers.length));
    assertTrue(loadsAfterKill >= 2, "checkpoints were restored after kills: " + loadsAfterKill);
  }
}
