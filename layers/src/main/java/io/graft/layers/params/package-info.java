/** Selecting parameters by name pattern, for freezing and for optimizer parameter groups ({@link io.graft.layers.params.Params}). */
package io.graft.layers.params;
