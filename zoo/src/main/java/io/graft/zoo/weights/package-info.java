/**
 * Weight readers in pure Java: PyTorch {@code .pth} (zip and legacy, through a restricted unpickler), ONNX
 * initializers, and the {@link io.graft.zoo.weights.Weights} facade that reads any of them (and safetensors).
 */
package io.graft.zoo.weights;
