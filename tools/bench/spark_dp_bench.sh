#!/bin/sh
# Per-step time of data-parallel training on Spark against one process (docs/distributed.md):
#   ResNet-18 at 64x64, batch 32 per worker: 2 one-core executors (a standalone cluster of separate JVMs, one kernel
#   thread each; OMP_NUM_THREADS=1 there) with each gradient exchange, against 1 process with 2 kernel threads on the global batch of 64;
#   smallcnn at 28x28 the same way. Prints one line per epoch; the second epoch of each run is the measurement.
# Usage (repository root):
#   tools/bench/spark_dp_bench.sh [STEPS]        (STEPS per epoch, default 6)
set -e
steps=${1:-6}
cp_file=spark/target/bench.cp
# in the reactor (test-compile first), so that Graft's own modules resolve to their target folders on a machine
# whose ~/.m2 has no Graft snapshot
mvn -B -q -o -pl spark -am test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.cp \
  -Dmdep.includeScope=test -Dgraft.fuzz.skip=true > /dev/null
# the reactor's freshly compiled classes first, so they shadow any stale Graft snapshot in ~/.m2
cp="spark/target/test-classes:spark/target/classes:finetune/target/classes:zoo/target/classes"
cp="$cp:optim/target/classes:layers/target/classes:core/target/classes:core/target/test-classes:$(cat $cp_file)"
# absolute paths: the executors start in their own work folders ('|' cannot be both the delimiter and alternation)
cp=$(echo "$cp" | sed -E "s#(^|:)([a-z]+/target/)#\1$(pwd)/\2#g")
flags=$(sed -n 's:.*<spark.jvm.flags>\(.*\)</spark.jvm.flags>.*:\1:p' spark/pom.xml)
run() {
  # shellcheck disable=SC2086
  SPARK_LOCAL_IP=127.0.0.1 java -Xmx2g -Dorg.bytedeco.javacpp.maxbytes=4G $flags -cp "$cp" \
    io.graft.spark.train.DataParallelBench "$@" 2>/dev/null | grep -E '^(single|local|cluster) ' || true
}
for m in "resnet18 64" "smallcnn 28"; do
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=2 run single $m 64 "$steps"
  for ex in blocks block-manager all-gather; do
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 run cluster $m 32 "$steps" $ex
  done
done
