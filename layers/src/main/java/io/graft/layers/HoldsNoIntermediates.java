package io.graft.layers;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Declares that a module class's {@code forward} keeps no reference to the tensors it computes (no field, no
 * cache, no hook of its own), so {@link IntermediateRelease} may free them once they are no longer needed. Graft's
 * layers and architectures carry it; a subclass does not inherit it (its forward is a different forward), so a
 * module defined elsewhere keeps everything below it until it declares the same.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface HoldsNoIntermediates {}
