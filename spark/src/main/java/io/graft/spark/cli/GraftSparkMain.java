package io.graft.spark.cli;

import io.graft.finetune.cli.Graft;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code spark-submit} entry point: runs the {@code graft} command line in the driver of a submitted
 * application. {@code predict} and {@code finetune} without {@code --spark-master} get the master that spark-submit
 * chose ({@code spark.master}), so
 * <pre>{@code
 * spark-submit --master spark://host:7077 --class io.graft.spark.cli.GraftSparkMain graft-spark-all.jar \
 *   predict --model resnet18 --weights /shared/model.safetensors --data /shared/images --out /shared/predictions
 * }</pre>
 * runs on the cluster. The exit status is the command's (non-zero on failure, with one line on standard error).
 */
public final class GraftSparkMain {
  private GraftSparkMain() {}

  /** Runs {@code args} as {@code graft args...}; exits with the command's status when it is not 0. */
  public static void main(String[] args) {
    PrintWriter out = new PrintWriter(System.out, true, Charset.defaultCharset());
    PrintWriter err = new PrintWriter(System.err, true, Charset.defaultCharset());
    int status = Graft.execute(out, err, withMaster(args, System.getProperty("spark.master")));
    out.flush();
    err.flush();
    if (status != 0) {
      System.exit(status); // the driver's main, never executor code
    }
  }

  /**
   * {@code args} with {@code --spark-master master} added after a {@code predict} or {@code finetune} command that
   * has none (and {@code master} is not null); otherwise {@code args} as they are.
   */
  static String[] withMaster(String[] args, String master) {
    List<String> a = new ArrayList<>(List.of(args));
    int cmd = -1;
    for (int i = 0; i < a.size(); i++) {
      if (!a.get(i).startsWith("-")) {
        cmd = i;
        break;
      }
    }
    boolean given = a.stream().anyMatch(s -> s.equals("--spark-master") || s.startsWith("--spark-master="));
    if (master == null || given || cmd < 0 || !(a.get(cmd).equals("predict") || a.get(cmd).equals("finetune"))) {
      return args;
    }
    a.add(cmd + 1, "--spark-master");
    a.add(cmd + 2, master);
    return a.toArray(String[]::new);
  }
}
