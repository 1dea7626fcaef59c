#!/bin/sh
# Paired measurement on a noisy host: for each round and each workload, the PyTorch script then the Graft JMH
# benchmark of the same workload, back to back, so each pair shares the host's state of the moment.
# Usage: tools/bench/interleave.sh OUTDIR ROUNDS WORKLOAD...   (workloads: resnet18_224 resnet18_64
#        resnet18_frozen_224 smallcnn mlp vit_b_16_224 efficientnet_b0_224 forward vit_b_16_lora_224 vit_b_16_full_224;
#        the last two are LoraStepBenchmarks against tools/bench/pytorch_lora_bench.py, AdamW)
# Writes OUTDIR/<round>-<workload>-pytorch.json and -graft.json; summarise with tools/bench/interleave_summary.py.
set -e
out=$1; rounds=$2; shift 2
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  for w in "$@"; do
    case $w in
      forward) pt=forward_resnet18_224; jmh='^io.graft.benchmarks.ForwardBenchmarks.resnet18Eval$'; param=''
        script=pytorch_bench.py ;;
      vit_b_16_lora_224|vit_b_16_full_224) pt=step_$w; jmh='^io.graft.benchmarks.LoraStepBenchmarks.trainStep$'
        param="-p workload=$w"; script=pytorch_lora_bench.py ;;
      *) pt=step_$w; jmh='^io.graft.benchmarks.StepBenchmarks.trainStep$'; param="-p workload=$w"
        script=pytorch_bench.py ;;
    esac
    /usr/bin/python3 "tools/bench/$script" --threads 2 --only "$pt" | tail -1 > "$out/$r-$w-pytorch.json"
    java -jar benchmarks/target/benchmarks.jar "$jmh" $param -wi 2 -i 5 -rf json -rff "$out/$r-$w-graft.json" \
      > /dev/null 2>&1
    echo "round $r $w done"
  done
done
