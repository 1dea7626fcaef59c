/**
 * JMH benchmarks of Graft's training steps, forward passes, ops, optimizers and feature cache, and
 * {@link io.graft.benchmarks.PeakMemory} for whole-process peak memory. Run with
 * {@code java -jar benchmarks/target/benchmarks.jar}; results, always beside PyTorch's figure from the same run or a
 * paired before/after, are in {@code docs/benchmarks.md}. Nothing here is asserted in tests.
 */
package io.graft.benchmarks;
