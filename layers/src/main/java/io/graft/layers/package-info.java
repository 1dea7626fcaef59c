/**
 * Modules with PyTorch's names and state-dict keys: {@link io.graft.layers.Module} (the tree, parameters, buffers,
 * train/eval mode, hooks, freezing, typed child replacement), {@link io.graft.layers.Sequential},
 * {@link io.graft.layers.Linear} and the small shape-only layers; state dicts load strictly or report what did not
 * match ({@link io.graft.layers.LoadResult}, {@link io.graft.layers.StateDictLoadException}). A call frees its
 * intermediate activations by the rule of {@link io.graft.layers.IntermediateRelease}, for modules declared
 * {@link io.graft.layers.HoldsNoIntermediates}.
 */
package io.graft.layers;
