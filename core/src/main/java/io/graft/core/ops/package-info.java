/**
 * Op families, one file each: the mathematics of every op, its backward right below its forward. Composed ops have
 * no rule of their own; the heavy ones (conv2d, batch norm, pooling) run their kernels through
 * {@link io.graft.core.backend.Backends}, one call per direction.
 */
package io.graft.core.ops;
