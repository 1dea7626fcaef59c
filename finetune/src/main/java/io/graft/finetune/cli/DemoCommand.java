package io.graft.finetune.cli;

import io.graft.finetune.recipe.Demo;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code graft demo}: the offline transfer-learning demo (see {@link Demo}). */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Fashion-MNIST 0-4 -> 5-9 with 100 images per class: scratch vs feature extraction vs full "
        + "fine-tuning, next to PyTorch's accuracies. Runs offline on data shipped in the jar.")
final class DemoCommand implements Callable<Integer> {
  @Option(names = "--data", description = "fashion-mnist:DIR with the full dataset: also run stage 1 in Graft")
  String data;

  @Option(names = "--seeds", split = ",", defaultValue = "0,1,2", description = "stage-2 seeds")
  int[] seeds;

  @Option(names = "--epochs", defaultValue = "20", description = "stage-2 epochs")
  int epochs;

  @Option(names = "--out", defaultValue = "graft-demo", description = "output folder")
  Path out;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    Path dir = null;
    if (data != null) {
      dir = DataSource.fashionMnistDir(data);
    }
    PrintWriter log = spec.commandLine().getOut();
    Demo.run(dir, seeds, epochs, out, log);
    log.printf("wrote %s%n", out.resolve("metrics.json"));
    return 0;
  }
}
