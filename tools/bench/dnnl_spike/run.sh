#!/bin/sh
# The measurement spike that preceded Graft's direct oneDNN path (io.graft.core.ops.OneDnnConv): oneDNN 2.5.2 called
# through javacpp's org.bytedeco:dnnl preset beside libnd4j's conv2d / conv2d_bp, at ResNet-18's convolution shapes
# (batch 8, 2 threads). Not part of the build; figures in docs/benchmarks.md.
# Needs `mvn install -DskipTests` (benchmarks/target/lib holds every jar, the preset included).
# Usage: tools/bench/dnnl_spike/run.sh [forward|backward|implementations]
#   implementations: every oneDNN kernel for each convolution, channels_last or blocked (ImplSpike.java)
set -e
if [ "$1" = implementations ]; then
  exec java -cp "benchmarks/target/benchmarks.jar:benchmarks/target/lib/*" tools/bench/dnnl_spike/ImplSpike.java
fi
exec java -cp "benchmarks/target/benchmarks.jar:benchmarks/target/lib/*" tools/bench/dnnl_spike/ConvSpike.java "${1:-forward}"
