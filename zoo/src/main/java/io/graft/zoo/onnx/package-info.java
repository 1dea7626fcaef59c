/**
 * ONNX import: {@link io.graft.zoo.onnx.OnnxModel} turns a graph into a trainable
 * {@link io.graft.layers.Module} whose nodes run as Graft ops (every operator checked when loading), and
 * {@link io.graft.zoo.onnx.OnnxClassifier} splits an imported classifier at its last {@code Gemm} so that the
 * fine-tuning recipes can replace and train its head.
 */
package io.graft.zoo.onnx;
