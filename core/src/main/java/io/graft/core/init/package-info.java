/** Weight initialisation with torch.nn.init's names and formulas, from explicit generators. */
package io.graft.core.init;
