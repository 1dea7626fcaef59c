#!/bin/sh
# Paired measurement on a noisy host: for each round and each workload, the PyTorch script then the Graft JMH
# benchmark of the same workload, back to back, so each pair shares the host's state of the moment.
# Usage: tools/bench/interleave.sh OUTDIR ROUNDS WORKLOAD...   (workloads: resnet18_224 resnet18_64
#        resnet18_frozen_224 smallcnn mlp forward)
# Writes OUTDIR/<round>-<workload>-pytorch.json and -graft.json; summarise with tools/bench/interleave_summary.py.
set -e
out=$1; rounds=$2; shift 2
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  for w in "$@"; do
    case $w in
      forward) pt=forward_resnet18_224; jmh='^io.graft.benchmarks.ForwardBenchmarks.resnet18Eval$'; param='' ;;
      *) pt=step_$w; jmh='^io.graft.benchmarks.StepBenchmarks.trainStep$'; param="-p workload=$w" ;;
    esac
    /usr/bin/python3 tools/bench/pytorch_bench.py --threads 2 --only "$pt" | tail -1 > "$out/$r-$w-pytorch.json"
    java -jar benchmarks/target/benchmarks.jar "$jmh" $param -wi 2 -i 5 -rf json -rff "$out/$r-$w-graft.json" \
      > /dev/null 2>&1
    echo "round $r $w done"
  done
done
