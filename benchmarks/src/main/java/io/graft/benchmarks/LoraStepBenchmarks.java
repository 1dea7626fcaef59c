package io.graft.benchmarks;

import io.graft.core.Parameter;
import io.graft.layers.lora.Lora;
import io.graft.layers.lora.LoraConfig;
import io.graft.optim.Adam;
import io.graft.optim.AdamW;
import io.graft.optim.ParamGroup;
import io.graft.zoo.models.Zoo;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A LoRA training step of {@code vit_b_16} at 224², batch 8 (AdamW lr 1e-4, cross-entropy, 10 classes), against the
 * full step of the same model and optimizer: {@code vit_b_16_lora_224} adapts q/k/v (the packed in_proj) and out of
 * every block with r = 8, alpha 16, the head trained fully, everything else frozen (no gradient, no optimizer state);
 * {@code vit_b_16_full_224} trains every parameter. Mirrored by {@code tools/bench/pytorch_lora_bench.py} (the same
 * LoRA in plain torch, {@code tools/lora_reference.py}).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 5, time = 5)
@Fork(value = 1, jvmArgs = {"-Xmx6g"})
@State(Scope.Thread)
public class LoraStepBenchmarks extends StepState {
  @Param({"vit_b_16_lora_224", "vit_b_16_full_224"})
  String workload;

  @Param({"2"})
  int threads;


  @Override
  void prepare(String workload, int threads) {
    this.workload = workload;
    this.threads = threads;
    setup();
  }

  @Setup(Level.Trial)
  public void setup() {
    Workloads.threads(threads);
    io.graft.core.init.Init.manualSeed(1);
    model = Zoo.create("vit_b_16", 10);
    if (workload.contains("lora")) {
      Lora.apply(model, LoraConfig.r(8).alpha(16).targets("encoder.layers.*.self_attention",
          "encoder.layers.*.self_attention.out_proj").modulesToSave("heads.head"));
    }
    model.train();
    Map<String, Parameter> trainable = new LinkedHashMap<>();
    model.namedParameters().forEach((k, p) -> {
      if (p.requiresGrad()) {
        trainable.put(k, p);
      }
    });
    opt = new AdamW(Adam.Options.lr(1e-4), ParamGroup.of(trainable));
    x = Workloads.input("vit_b_16", 8, 224);
    y = Workloads.labels(8, 10);
  }

  @Benchmark
  public double trainStep() {
    return step();
  }
}
