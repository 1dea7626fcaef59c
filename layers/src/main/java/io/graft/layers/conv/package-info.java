/** Convolution layers ({@link io.graft.layers.conv.Conv2d}: weights {@code [out, in/groups, kH, kW]}, as PyTorch). */
package io.graft.layers.conv;
