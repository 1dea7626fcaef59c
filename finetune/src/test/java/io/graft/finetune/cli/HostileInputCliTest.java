package io.graft.finetune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.graft.core.Tensor;
import io.graft.core.io.AtomicFiles;
import io.graft.core.io.Npy;
import io.graft.core.io.Safetensors;
import io.graft.core.random.Rng;
import io.graft.finetune.cli.GraftCliTest.Result;
import io.graft.layers.Module;
import io.graft.zoo.models.Classifier;
import io.graft.zoo.models.Zoo;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line's answers to input it cannot use: one line, a non-zero status, never a stack trace. */
class HostileInputCliTest {
  @TempDir
  Path tmp;

  @Test
  void nonFiniteInputIsCountedAndWarnedAbout() {
    Tensor x = Tensor.randn(new Rng(2), 2, 3, 32, 32);
    float[] v = x.toFloatArray();
    v[5] = Float.NaN;
    v[700] = Float.NaN;
    v[4000] = Float.NEGATIVE_INFINITY;
    Path in = tmp.resolve("x.npy");
    Npy.write(in, Tensor.fromArray(v, 2, 3, 32, 32));
    Module m = Zoo.create("resnet18", 1000);
    ((Classifier) m).replaceHead(5);
    Path w = tmp.resolve("r18.safetensors");
    Safetensors.write(w, m.stateDict(), Map.of());
    Result r = GraftCliTest.run("predict", "--model", "resnet18", "--weights", w.toString(), "--input", in.toString(),
        "--out", tmp.resolve("y.npy").toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.err().contains("graft: warning: " + in + " holds 3 non-finite values (2 NaN, 1 infinite) of 6144"),
        r.err());
  }

  @Test
  void outNamingAnExistingFileIsOneLine() throws Exception {
    Path file = Files.writeString(tmp.resolve("taken"), "x");
    Result r = GraftCliTest.run("finetune", "--model", "smallcnn", "--data", "fashion-mnist:"
        + io.graft.finetune.recipe.Demo.assets(), "--strategy", "scratch", "--epochs", "1", "--out", file.toString());
    assertEquals(Graft.BAD_INPUT, r.code(), r.err());
    assertTrue(r.err().startsWith("graft: error: --out " + file + ": exists and is not a directory"), r.err());
    assertEquals("x", Files.readString(file), "the file is untouched");
  }

  @Test
  void outOfMemoryIsOneLineAndItsOwnStatus() {
    CommandLine cl = new CommandLine(new Graft());
    cl.addSubcommand("exhaust", new Exhaust());
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Graft.execute(cl, new PrintWriter(out), new PrintWriter(err), "exhaust");
    assertEquals(Graft.OUT_OF_MEMORY, code);
    assertTrue(err.toString().startsWith("graft: error: out of memory (Java heap space)"), err.toString());
    assertEquals(1, err.toString().lines().count(), err.toString());
  }

  @CommandLine.Command(name = "exhaust")
  static final class Exhaust implements Callable<Integer> {
    @Override
    public Integer call() {
      throw new OutOfMemoryError("Java heap space");
    }
  }

  /** A write killed before its rename leaves a temporary file; the next write of the target removes it. */
  @Test
  void temporaryFilesOfKilledWritesAreCleanedByTheNextWrite() throws Exception {
    Path target = tmp.resolve("last.ckpt");
    Process dead = new ProcessBuilder("true").start();
    dead.waitFor();
    Path stale = Files.writeString(tmp.resolve(".last.ckpt." + dead.pid() + ".123.tmp"), "torn");
    Path live = Files.writeString(tmp.resolve(".last.ckpt." + ProcessHandle.current().pid() + ".456.tmp"), "mine");
    Path other = Files.writeString(tmp.resolve(".other.ckpt." + dead.pid() + ".1.tmp"), "other target");
    AtomicFiles.write(target, o -> o.write(new byte[] {1, 2, 3}));
    assertFalse(Files.exists(stale), "the dead writer's file is removed");
    assertTrue(Files.exists(live), "a live process's file is kept");
    assertTrue(Files.exists(other), "another target's file is kept");
    assertEquals(3, Files.size(target));
  }
}
