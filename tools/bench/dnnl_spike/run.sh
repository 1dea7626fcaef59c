#!/bin/sh
# A measurement spike, not part of Graft: oneDNN 2.5.2 called directly through javacpp's org.bytedeco:dnnl preset,
# beside libnd4j's conv2d / conv2d_bp, at ResNet-18's convolution shapes (batch 8, 2 threads).
# Needs `mvn install -DskipTests` (for benchmarks/target) and the preset jars in ~/.m2:
#   mvn dependency:get -Dartifact=org.bytedeco:dnnl:2.5.2-1.5.7 -Dtransitive=false   (and :jar:linux-x86_64)
#   mvn dependency:get -Dartifact=org.bytedeco:opencl:3.0-1.5.7 -Dtransitive=false   (and :jar:linux-x86_64)
# Usage: tools/bench/dnnl_spike/run.sh [forward|backward]
set -e
R="$HOME/.m2/repository/org/bytedeco"
CP="benchmarks/target/benchmarks.jar"
for j in dnnl/2.5.2-1.5.7/dnnl-2.5.2-1.5.7 opencl/3.0-1.5.7/opencl-3.0-1.5.7; do
  CP="$CP:$R/$j.jar:$R/$j-linux-x86_64.jar"
done
exec java -cp "$CP" tools/bench/dnnl_spike/ConvSpike.java "${1:-forward}"
