/**
 * Image transforms with torchvision's names and semantics: Resize, CenterCrop, RandomResizedCrop,
 * RandomCrop(padding), RandomHorizontalFlip, ColorJitter, Normalize, Compose (ToTensor is implicit: datasets yield
 * float images in [0, 1]).
 */
package io.graft.finetune.transforms;
