/**
 * Modules with PyTorch's names and state-dict keys: {@link io.graft.layers.Module} (the tree, parameters, buffers,
 * train/eval mode, hooks, freezing), {@link io.graft.layers.Sequential}, {@link io.graft.layers.Linear} and the
 * small shape-only layers; state dicts load strictly or report what did not match
 * ({@link io.graft.layers.LoadResult}, {@link io.graft.layers.StateDictLoadException}).
 */
package io.graft.layers;
