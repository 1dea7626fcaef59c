/**
 * Batch normalisation ({@link io.graft.layers.norm.BatchNorm1d}, {@link io.graft.layers.norm.BatchNorm2d}) with
 * PyTorch's running statistics, and the explicit choice of what a frozen one does
 * ({@link io.graft.layers.norm.BatchNormPolicy}).
 */
package io.graft.layers.norm;
