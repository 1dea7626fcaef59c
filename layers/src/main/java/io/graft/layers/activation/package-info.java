/** Activation layers (ReLU, ReLU6, LeakyReLU, GELU, SiLU, Sigmoid, Tanh, Softmax), each a thin module over an op. */
package io.graft.layers.activation;
