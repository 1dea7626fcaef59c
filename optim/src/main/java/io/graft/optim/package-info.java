/**
 * Optimizers with torch.optim's update rules (SGD, Adam, AdamW), param groups by parameter name, freeze-aware
 * stepping, gradient clipping and state by parameter name; schedulers live in {@code io.graft.optim.scheduler}.
 */
package io.graft.optim;
