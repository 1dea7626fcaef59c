/** Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d. */
package io.graft.layers.pool;
