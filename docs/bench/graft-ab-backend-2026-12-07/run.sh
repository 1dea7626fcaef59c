#!/bin/sh
# Graft before (112865e, issue 19 not applied) vs after (this session's merge), paired and interleaved on the
# same idle machine, 2 threads, JMH -wi 2 -i 5 -f 1 (3 s iterations). Usage: run.sh OUTDIR ROUNDS
out=$1; rounds=${2:-3}; mkdir -p "$out"
for r in $(seq "${START:-1}" "$rounds"); do
  for w in resnet18_224 resnet18_64 resnet18_frozen_224 forward smallcnn mlp; do
    case $w in
      forward) jmh='ForwardBenchmarks.resnet18Eval'; param='' ;;
      *) jmh='StepBenchmarks.trainStep'; param="-p workload=$w" ;;
    esac
    for side in base main; do
      dir=/work/wt-base; [ $side = main ] && dir=/work/main
      (cd $dir && java -jar benchmarks/target/benchmarks.jar "$jmh" $param -wi 2 -i 5 -f 1 \
        -rf json -rff "$out/$r-$w-$side.json" > "$out/$r-$w-$side.log" 2>&1)
      echo "round $r $w $side done $(date +%T)"
    done
  done
done
