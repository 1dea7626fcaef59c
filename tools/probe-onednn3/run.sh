#!/bin/sh
# Probe: ND4J 1.0.0-M2.1 (Graft's backend) and oneDNN 3.8.1 (bytedeco dnnl 3.8.1-1.5.12) in one JVM, on javacpp 1.5.12.
# Usage (repository root): tools/probe-onednn3/run.sh      Downloads four jars from Maven Central into a temp folder.
set -e
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
base=https://repo.maven.apache.org/maven2/org/bytedeco
for a in javacpp/1.5.12/javacpp-1.5.12.jar javacpp/1.5.12/javacpp-1.5.12-linux-x86_64.jar \
    dnnl/3.8.1-1.5.12/dnnl-3.8.1-1.5.12.jar dnnl/3.8.1-1.5.12/dnnl-3.8.1-1.5.12-linux-x86_64.jar; do
  curl -s -f -o "$tmp/$(basename $a)" "$base/$a"
done
mvn -B -q -o -pl core -am compile dependency:build-classpath -Dmdep.outputFile="$tmp/core.cp" \
  -Dmdep.includeScope=runtime -Dgraft.fuzz.skip=true > /dev/null
# Graft's class path with javacpp 1.5.7 and dnnl 2.5.2 swapped for the newer ones
cp=$(sed -e "s#[^:]*/javacpp-1.5.7.jar#$tmp/javacpp-1.5.12.jar#" \
  -e "s#[^:]*/javacpp-1.5.7-linux-x86_64.jar#$tmp/javacpp-1.5.12-linux-x86_64.jar#" \
  -e "s#[^:]*/dnnl-2.5.2-1.5.7.jar#$tmp/dnnl-3.8.1-1.5.12.jar#" \
  -e "s#[^:]*/dnnl-2.5.2-1.5.7-linux-x86_64.jar#$tmp/dnnl-3.8.1-1.5.12-linux-x86_64.jar#" "$tmp/core.cp")
javac -cp "$cp" -d "$tmp/out" tools/probe-onednn3/OneDnn3Probe.java
java -Dorg.bytedeco.javacpp.platform.extension=-onednn -cp "$tmp/out:$cp" OneDnn3Probe 2>&1 | grep -v '^SLF4J'
