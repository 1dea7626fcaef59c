/**
 * Low-rank adapters (LoRA, Hu et al. 2021; PEFT's {@code LoraConfig}/{@code LoraModel}): {@link
 * io.graft.layers.lora.Lora#apply} wraps chosen {@code Linear} and {@code Conv2d} layers so they compute
 * {@code W x + (alpha / r) B A x} with {@code W} frozen; {@link io.graft.layers.lora.LoraAdapters} saves and loads the
 * adapters alone in PEFT's file layout.
 */
package io.graft.layers.lora;
