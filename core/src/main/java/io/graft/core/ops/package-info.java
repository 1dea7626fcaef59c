/** Op families, one file each; every op's backward sits right below its forward. Composed ops have no rule of their own. */
package io.graft.core.ops;
