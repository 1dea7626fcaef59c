/** The autograd engine: graph nodes, vector–Jacobian products, the grad-mode switch and the single broadcasting rule. */
package io.graft.core.autograd;
