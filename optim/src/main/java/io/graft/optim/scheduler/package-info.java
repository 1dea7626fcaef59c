/**
 * Learning-rate schedules with PyTorch 1.13's sequences: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR,
 * LinearLR (warm-up), OneCycleLR, SequentialLR (chaining, e.g. warm-up then cosine) and ReduceLROnPlateau.
 */
package io.graft.optim.scheduler;
