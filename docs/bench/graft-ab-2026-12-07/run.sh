#!/bin/sh
# Graft before (2c347ea) vs after (this session's HEAD), paired and interleaved, same machine, 2 threads
for r in 1 2 3; do
  for w in resnet18_224 mlp; do
    for side in base main; do
      dir=/work/wt-$side; [ $side = main ] && dir=/work/main
      (cd $dir && java -jar benchmarks/target/benchmarks.jar StepBenchmarks.trainStep -p workload=$w -wi 2 -i 5 -f 1 \
        -rf json -rff /tmp/ab/$r-$w-$side.json > /tmp/ab/$r-$w-$side.log 2>&1)
      echo "round $r $w $side done $(date +%T)"
    done
  done
done
