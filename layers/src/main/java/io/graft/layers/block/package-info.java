/** Composite building blocks shared by several architectures: SqueezeExcitation. */
package io.graft.layers.block;
