/** Explicit, seeded random generators (no hidden global state). */
package io.graft.core.random;
