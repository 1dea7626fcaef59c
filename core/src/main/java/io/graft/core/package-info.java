/** Graft's foundation: {@link io.graft.core.Tensor} with eager reverse-mode autograd over ND4J, parameters, state dicts and backend start-up. */
package io.graft.core;
