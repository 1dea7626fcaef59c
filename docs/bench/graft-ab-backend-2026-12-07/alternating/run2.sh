#!/bin/sh
# Second paired run: order alternates within each pair (odd rounds before first, even rounds after first).
# before: 112865e (/work/wt-base); after: the session's final commit (a clean clone's build, /tmp/ci).
out=$1; rounds=${2:-6}; mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  for w in resnet18_64 resnet18_frozen_224 resnet18_224; do
    if [ $((r % 2)) = 1 ]; then sides="base main"; else sides="main base"; fi
    for side in $sides; do
      dir=/work/wt-base; [ $side = main ] && dir=/tmp/ci
      (cd $dir && java -jar benchmarks/target/benchmarks.jar StepBenchmarks.trainStep -p workload=$w -wi 2 -i 5 -f 1 \
        -rf json -rff "$out/$r-$w-$side.json" > "$out/$r-$w-$side.log" 2>&1)
      echo "round $r $w $side done $(date +%T)"
    done
  done
done
