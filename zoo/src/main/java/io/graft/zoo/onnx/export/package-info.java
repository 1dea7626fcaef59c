/**
 * Graft modules written as standard ONNX graphs (opset 17) of their eval-mode forward: {@link
 * io.graft.zoo.onnx.export.OnnxExport}, one {@link io.graft.zoo.onnx.export.Emitter} per layer type.
 */
package io.graft.zoo.onnx.export;
